// A hand-written SVG bar chart for `npm run bench:peers`: one panel per figure (sequential client CPU per turn,
// concurrent wall time), one horizontal bar per adapter, the raw-fetch baseline as a dashed line across each panel.
// Plain string building, so the benchmark needs no charting dependency.
import { adapterOrder, baselineAdapter, medianOf } from './summary.ts';
import type { HarnessResult, Metric, Mode } from './summary.ts';

export type BarKind = 'baseline' | 'raw' | 'peer' | 'keel';

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly kind: BarKind;
}

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly digits: number;
  readonly bars: readonly Bar[];
  /** Drawn as a dashed vertical line, so every bar can be read against the baseline. */
  readonly reference?: { readonly label: string; readonly value: number };
  /** Adapters measured in this mode without a successful result: named under the panel rather than left out silently. */
  readonly failed?: readonly string[];
}

const colors: Readonly<Record<BarKind, string>> = { baseline: '#4d4d4d', raw: '#a0a0a0', peer: '#4e79a7', keel: '#e15759' };
const legendText: Readonly<Record<BarKind, string>> = { baseline: 'raw-fetch baseline', raw: 'other raw loops', peer: 'peer frameworks', keel: 'Keel' };

const width = 980;
const labelWidth = 270;
const plotWidth = 580;
const barHeight = 18;
const barGap = 6;
const panelHeader = 50;
const axisHeight = 26;
const panelGap = 24;
const titleHeight = 56;

export function kindOf(adapter: string): BarKind {
  if (adapter === baselineAdapter) return 'baseline';
  if (adapter.startsWith('raw-')) return 'raw';
  if (adapter.startsWith('keel')) return 'keel';
  return 'peer';
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** A round step so that about five grid lines cover the largest value. */
export function tickStep(maximum: number): number {
  if (!(maximum > 0)) return 1;
  const rough = maximum / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const normalized = rough / magnitude;
  const nice = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10;
  return nice * magnitude;
}

function formatValue(value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const noteLineHeight = 15;
const noteLineCharacters = 110;

/** The note under a panel, wrapped at commas so it stays inside the picture. */
function failureNote(panel: Panel): string[] {
  if (panel.failed === undefined || panel.failed.length === 0) return [];
  const lines: string[] = [];
  let line = 'Not shown, every measurement failed:';
  for (const [index, name] of panel.failed.entries()) {
    const item = `${name}${index < panel.failed.length - 1 ? ',' : ''}`;
    if (line.length + item.length + 1 > noteLineCharacters) {
      lines.push(line);
      line = item;
    } else line = `${line} ${item}`;
  }
  return [...lines, line];
}

function panelHeight(panel: Panel): number {
  return panelHeader + panel.bars.length * (barHeight + barGap) + axisHeight + failureNote(panel).length * noteLineHeight;
}

function renderPanel(panel: Panel, top: number): string {
  const maximum = Math.max(...panel.bars.map((bar) => bar.value), panel.reference?.value ?? 0);
  const step = tickStep(maximum);
  const scaleMaximum = Math.max(step, Math.ceil(maximum / step) * step);
  const x = (value: number) => labelWidth + (value / scaleMaximum) * plotWidth;
  const plotTop = top + panelHeader;
  const plotBottom = plotTop + panel.bars.length * (barHeight + barGap);
  const parts: string[] = [`<g class="panel">`, `<text x="${labelWidth}" y="${top + 20}" class="panel-title">${escapeXml(`${panel.title} (${panel.unit})`)}</text>`];
  for (let tick = 0; tick <= scaleMaximum + step / 1000; tick += step) {
    const tickX = x(tick).toFixed(1);
    parts.push(`<line x1="${tickX}" y1="${plotTop - 4}" x2="${tickX}" y2="${plotBottom}" class="grid"/>`);
    parts.push(`<text x="${tickX}" y="${plotBottom + 16}" class="tick">${escapeXml(formatValue(tick, step < 1 ? 1 : 0))}</text>`);
  }
  panel.bars.forEach((bar, index) => {
    const y = plotTop + index * (barHeight + barGap);
    const barWidth = Math.max(1, x(bar.value) - labelWidth);
    parts.push(`<text x="${labelWidth - 8}" y="${y + 13}" class="label">${escapeXml(bar.label)}</text>`);
    parts.push(`<rect class="bar ${bar.kind}" x="${labelWidth}" y="${y}" width="${barWidth.toFixed(1)}" height="${barHeight}" fill="${colors[bar.kind]}"><title>${escapeXml(`${bar.label}: ${formatValue(bar.value, panel.digits)} ${panel.unit}`)}</title></rect>`);
    parts.push(`<text x="${(labelWidth + barWidth + 5).toFixed(1)}" y="${y + 13}" class="value">${escapeXml(formatValue(bar.value, panel.digits))}</text>`);
  });
  if (panel.reference !== undefined) {
    const referenceX = x(panel.reference.value).toFixed(1);
    parts.push(`<line x1="${referenceX}" y1="${plotTop - 8}" x2="${referenceX}" y2="${plotBottom}" class="reference"/>`);
    parts.push(`<text x="${referenceX}" y="${plotTop - 11}" class="reference-label">${escapeXml(panel.reference.label)}</text>`);
  }
  failureNote(panel).forEach((line, index) => {
    parts.push(`<text x="${labelWidth / 4}" y="${plotBottom + 34 + index * noteLineHeight}" class="note">${escapeXml(line)}</text>`);
  });
  parts.push('</g>');
  return parts.join('\n');
}

export function renderChart(title: string, subtitle: string, panels: readonly Panel[]): string {
  const shown = panels.filter((panel) => panel.bars.length > 0);
  const height = titleHeight + shown.reduce((sum, panel) => sum + panelHeight(panel) + panelGap, 0) + 10;
  const legend = (Object.keys(colors) as BarKind[])
    .map((kind, index) => {
      const legendX = labelWidth + index * 150;
      return `<rect x="${legendX}" y="40" width="12" height="12" fill="${colors[kind]}"/><text x="${legendX + 17}" y="50" class="legend">${escapeXml(legendText[kind])}</text>`;
    })
    .join('');
  const body: string[] = [];
  let top = titleHeight;
  for (const panel of shown) {
    body.push(renderPanel(panel, top));
    top += panelHeight(panel) + panelGap;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.panel-title{font-size:14px;font-weight:bold}.label{font-size:12px;text-anchor:end}.value,.tick,.legend{font-size:11px}.tick{text-anchor:middle;fill:#666}.grid{stroke:#e4e4e4}.reference{stroke:#222;stroke-dasharray:5 3}.reference-label{font-size:11px;text-anchor:middle}.subtitle{font-size:11px;fill:#555}.note{font-size:11px;fill:#b00}</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="20" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="12" y="34" class="subtitle">${escapeXml(subtitle)}</text>`,
    legend,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function panelFor(results: readonly HarnessResult[], order: readonly string[], mode: Mode, metric: Metric, title: string, unit: string, digits: number, scale = 1): Panel {
  const bars: Bar[] = [];
  const failed: string[] = [];
  for (const adapter of order) {
    const value = medianOf(results, adapter, mode, metric) * scale;
    if (Number.isFinite(value)) bars.push({ label: adapter, value, kind: kindOf(adapter) });
    else if (results.some((result) => result.adapter === adapter && result.mode === mode)) failed.push(adapter);
  }
  const baseline = medianOf(results, baselineAdapter, mode, metric) * scale;
  return { title, unit, digits, bars, failed, ...(Number.isFinite(baseline) ? { reference: { label: baselineAdapter, value: baseline } } : {}) };
}

/** The two panels of the peer chart: what a turn costs in CPU, and how long 1,000 concurrent sessions take. */
export function peerChartPanels(results: readonly HarnessResult[], preferredOrder: readonly string[] = []): Panel[] {
  const order = adapterOrder(results, preferredOrder);
  const sessions = (mode: Mode) => (results.find((result) => result.mode === mode)?.sessions ?? Number.NaN).toLocaleString('en-US');
  return [
    panelFor(results, order, 'seq', 'clientCpuMsPerTurn', `Sequential, ${sessions('seq')} sessions: client CPU per turn, median`, 'ms/turn', 3),
    panelFor(results, order, 'conc', 'totalMs', `${sessions('conc')} concurrent sessions: wall time, median`, 's', 1, 1 / 1000),
  ];
}
