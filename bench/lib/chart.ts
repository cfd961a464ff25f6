/**
 * The SVG chart of a run (bench/results/latest.svg): for each mode and scenario, each server's
 * requests per second and CPU per request as bars, each scenario on its own scale, so the
 * standing of Warden against R0, A0, P1, M1 and R3 reads at a glance.
 */
import type { LoadResult } from './load';

interface ChartScenario {
  id: string;
  title: string;
  mode: string;
  results: LoadResult[];
}

/** The servers charted, in order, by the start of their names; others (variants) are left out. */
const SERIES: Array<{ prefix: string; label: string; color: string }> = [
  { prefix: 'Warden', label: 'Warden', color: '#d62728' },
  { prefix: 'Warden, baseline', label: 'Warden (baseline build)', color: '#ff9896' },
  { prefix: 'R0', label: 'R0 raw node:http', color: '#7f7f7f' },
  { prefix: 'R3', label: 'R3 raw node:http + pg', color: '#bcbd22' },
  { prefix: 'A0', label: 'A0 Apollo on Fastify', color: '#1f77b4' },
  { prefix: 'P1', label: 'P1 typical Apollo', color: '#2ca02c' },
  { prefix: 'M1', label: 'M1 Mercurius + jit', color: '#9467bd' },
];

const seriesOf = (server: string) => {
  if (server === 'Warden') return SERIES[0];
  if (server.startsWith('Warden, baseline')) return SERIES[1];
  return SERIES.slice(2).find((s) => server.startsWith(s.prefix));
};

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chart(scenarios: ChartScenario[]): string {
  const panels = scenarios
    .filter((s) => /^S[1-4]$/.test(s.id))
    .map((s) => ({ s, bars: s.results.filter((r) => seriesOf(r.server)).map((r) => ({ r, series: seriesOf(r.server)! })) }))
    .filter((p) => p.bars.length > 0);
  const barHeight = 14;
  const labelWidth = 190;
  const plotWidth = 300;
  const gap = 40;
  const width = labelWidth + 2 * (plotWidth + gap) + 20;
  let y = 60;
  const parts: string[] = [];
  for (const { s, bars } of panels) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escape(`${s.id} ${s.title.replace(/`/g, '')} — ${s.mode}`)}</text>`);
    y += 8;
    const maxRps = Math.max(...bars.map((b) => b.r.rps), 1);
    const maxCpu = Math.max(...bars.map((b) => b.r.cpuMicrosPerRequest), 1);
    for (const { r, series } of bars) {
      y += barHeight + 4;
      const rpsWidth = (r.rps / maxRps) * plotWidth;
      const cpuWidth = (r.cpuMicrosPerRequest / maxCpu) * plotWidth;
      const x2 = labelWidth + plotWidth + gap;
      const invalid = r.valid ? '' : ' (invalid)';
      parts.push(
        `<text x="10" y="${y - 3}">${escape(series.label + invalid)}</text>`,
        `<rect x="${labelWidth}" y="${y - barHeight}" width="${rpsWidth.toFixed(1)}" height="${barHeight}" fill="${series.color}"/>`,
        `<text x="${labelWidth + rpsWidth + 4}" y="${y - 3}">${Math.round(r.rps)}</text>`,
        `<rect x="${x2}" y="${y - barHeight}" width="${cpuWidth.toFixed(1)}" height="${barHeight}" fill="${series.color}" opacity="0.6"/>`,
        `<text x="${x2 + cpuWidth + 4}" y="${y - 3}">${Math.round(r.cpuMicrosPerRequest)} µs</text>`,
      );
    }
    y += 30;
  }
  const header = [
    `<text x="10" y="20" font-weight="bold" font-size="14">Warden and its references, same run (each scenario on its own scale)</text>`,
    `<text x="${labelWidth}" y="42">requests / s (more is better)</text>`,
    `<text x="${labelWidth + plotWidth + gap}" y="42">CPU µs / request (less is better)</text>`,
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...header,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
