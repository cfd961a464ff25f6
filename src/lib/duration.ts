/**
 * Parses the durations Warden's configuration accepts: a bare number of seconds (`900`) or a
 * number with one unit (`900s`, `15m`, `12h`, `14d`). Returns milliseconds, or null when the
 * text is not such a duration.
 */
export function parseDuration(text: string): number | null {
  const match = /^\s*(\d+)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return null;
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms' | 's' | 'm' | 'h' | 'd'];
  const ms = value * factor;
  return Number.isSafeInteger(ms) ? ms : null;
}
