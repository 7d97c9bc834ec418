/** Inline SVG charts for the eval report: no script, no external resource, readable without colour alone. */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export interface Bar {
  readonly label: string;
  /** 0 to 1. */
  readonly value: number;
  readonly caption: string;
}

/** Horizontal bars of rates (per-check pass rates): the label on the left, the caption on the right. The page's heading names it. */
export function rateBars(title: string, bars: readonly Bar[]): string {
  const rowHeight = 24;
  const labelWidth = 220;
  const barWidth = 360;
  const height = bars.length * rowHeight + 8;
  const rows = bars.map((bar, index) => {
    const y = 2 + index * rowHeight;
    const width = Math.max(0, Math.min(1, bar.value)) * barWidth;
    const tone = bar.value >= 1 ? 'pass' : bar.value >= 0.5 ? 'warn' : 'fail';
    return [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end" class="label">${escapeHtml(cut(bar.label, 32))}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${barWidth}" height="${rowHeight - 8}" class="track"/>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${width.toFixed(1)}" height="${rowHeight - 8}" class="bar ${tone}"><title>${escapeHtml(`${bar.label}: ${bar.caption}`)}</title></rect>`,
      `<text x="${labelWidth + barWidth + 8}" y="${y + 15}" class="label">${escapeHtml(bar.caption)}</text>`,
    ].join('');
  });
  return `<svg role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${labelWidth + barWidth + 120} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">${rows.join('')}</svg>`;
}

/** A histogram of a distribution (cost, latency, tokens per case run) in up to 12 equal-width bins. */
export function histogram(title: string, values: readonly number[], format: (value: number) => string): string {
  const width = 320;
  const height = 160;
  const top = 22;
  const bottom = 30;
  const header = `<text x="0" y="14" class="title">${escapeHtml(title)}</text>`;
  if (values.length === 0) {
    return `<svg role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">${header}<text x="0" y="60" class="label">no data</text></svg>`;
  }
  const low = values.reduce((least, value) => Math.min(least, value), Number.POSITIVE_INFINITY);
  const high = values.reduce((most, value) => Math.max(most, value), Number.NEGATIVE_INFINITY);
  const binCount = high === low ? 1 : Math.min(12, Math.max(1, Math.ceil(Math.sqrt(values.length))));
  const span = high === low ? 1 : (high - low) / binCount;
  const bins = new Array<number>(binCount).fill(0);
  for (const value of values) {
    const bin = Math.min(binCount - 1, Math.floor((value - low) / span));
    bins[bin] = (bins[bin] ?? 0) + 1;
  }
  const most = Math.max(...bins);
  const plotHeight = height - top - bottom;
  const binWidth = width / binCount;
  const rects = bins.map((count, index) => {
    const barHeight = (count / most) * plotHeight;
    const from = low + index * span;
    const to = high === low ? high : from + span;
    return `<rect x="${(index * binWidth + 1).toFixed(1)}" y="${(top + plotHeight - barHeight).toFixed(1)}" width="${Math.max(1, binWidth - 2).toFixed(1)}" height="${barHeight.toFixed(1)}" class="bar neutral"><title>${escapeHtml(`${format(from)} to ${format(to)}: ${count}`)}</title></rect>`;
  });
  const axis = `<text x="0" y="${height - 10}" class="label">${escapeHtml(format(low))}</text><text x="${width}" y="${height - 10}" text-anchor="end" class="label">${escapeHtml(format(high))}</text>`;
  return `<svg role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">${header}${rects.join('')}${axis}</svg>`;
}

function cut(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
