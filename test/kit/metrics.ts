/** The one /metrics scraper: Prometheus text from a running server, read into samples. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Anything with a base URL: an in-process TestServer or a spawned WardenProcess. */
export interface HasUrl {
  url: string;
}

/** All samples of the server's /metrics page. */
export async function scrapeMetrics(server: HasUrl): Promise<Sample[]> {
  const response = await fetch(`${server.url}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

const LINE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL))
      labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** `name{a="x",b="y"}` → its name and labels. */
function parseSelector(selector: string): { name: string; labels: Record<string, string> } {
  const [sample] = parseMetrics(`${selector} 0`);
  if (!sample) throw new Error(`not a metric selector: ${selector}`);
  return { name: sample.name, labels: sample.labels };
}

/**
 * The value of one sample, 0 when the server has not recorded it yet. The labels must match the
 * sample's exactly (all of them, any order). Either `metric(server, 'warden_logins_total', { result: 'ok' })`
 * or `metric(server, 'warden_logins_total{result="ok"}')`.
 */
export async function metric(server: HasUrl, name: string, labels?: Record<string, string>): Promise<number> {
  const wanted = labels ? { name, labels } : parseSelector(name);
  const keys = Object.keys(wanted.labels);
  const found = (await scrapeMetrics(server)).find(
    (sample) =>
      sample.name === wanted.name &&
      Object.keys(sample.labels).length === keys.length &&
      keys.every((key) => sample.labels[key] === wanted.labels[key]),
  );
  return found ? found.value : 0;
}
