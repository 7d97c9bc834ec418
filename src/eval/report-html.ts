import { escapeHtml, histogram, rateBars } from './svg-charts.ts';
import type { EvalCaseResult, EvalCheckResult, EvalRunRecord } from './run-types.ts';

export interface EvalReportOptions {
  readonly run: EvalRunRecord;
  readonly results: readonly EvalCaseResult[];
  /**
   * Base of trace links when the report is served beside `keel serve` (`http://localhost:8080`); links are
   * `/sessions/<id>` relative to it. Empty: links relative to wherever the report is served from.
   */
  readonly serverUrl?: string;
  /** The command shown for a session's trace. Default `keel trace <session>`. */
  readonly traceCommand?: (sessionId: string) => string;
}

const style = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d232b;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #d8dee6;padding-bottom:.25rem}
.meta{color:#56606c}.figures{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}.figure{border:1px solid #d8dee6;border-radius:6px;padding:.5rem .9rem;min-width:8rem}
.figure b{display:block;font-size:1.3rem}.ok{color:#17663a}.bad{color:#a3261b}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1.5rem}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e6eaef;vertical-align:top}
th{background:#f4f6f8}td.checks{min-width:26rem}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font:12px ui-monospace,Menlo,monospace;background:#f4f6f8;padding:0 .25rem;border-radius:3px}
details{margin:.25rem 0}summary{cursor:pointer}.check-fail{color:#a3261b}.check-pass{color:#17663a}
svg .title{font-weight:600;font-size:12px;fill:#1d232b}svg .label{font-size:11px;fill:#3b4450}svg .track{fill:#eef1f4}
svg .bar.pass{fill:#2f8f57}svg .bar.warn{fill:#c98a16}svg .bar.fail{fill:#c0392b}svg .bar.neutral{fill:#4a6fa5}
`;

/**
 * A self-contained HTML page of one eval run: summary figures, per-check pass rates and the distributions of cost,
 * latency and tokens as inline SVG, every case run with its checks, and for each failed one its trace as a command
 * (`keel trace <session>`) and as a link to `/sessions/<session>` of `keel serve`. No script, no network.
 * @example
 * ```ts
 * writeFileSync('report.html', renderEvalReport({ run: runs.run(runId), results: runs.results(runId), serverUrl: 'http://localhost:8080' }));
 * ```
 */
export function renderEvalReport(options: EvalReportOptions): string {
  const { run, results } = options;
  const summary = run.summary;
  const title = `Eval ${run.suite} — ${run.runId}`;
  const checkBars = summary === null ? [] : Object.entries(summary.checks).map(([name, entry]) => ({ label: name, value: entry.rate, caption: `${entry.passed}/${entry.total}` }));
  const costs = results.flatMap((result) => (result.costUsd === null ? [] : [result.costUsd]));
  const sections = [
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">Started ${escapeHtml(new Date(run.startedAt).toISOString())} · model <code>${escapeHtml(run.model ?? 'unknown')}</code> · cassette ${escapeHtml(run.cassette)}${run.replayOf === null ? '' : ` of <code>${escapeHtml(run.replayOf)}</code>`} · ${run.repetitions} repetition${run.repetitions === 1 ? '' : 's'}</p>`,
    figures(run, results),
    '<h2>Pass rate by check</h2>',
    checkBars.length === 0 ? '<p>No checks ran.</p>' : rateBars('Pass rate by check', checkBars),
    '<h2>Distributions per case run</h2>',
    '<div class="charts">',
    histogram('Cost (USD)', costs, (value) => `$${value.toFixed(4)}`),
    histogram('Latency (ms)', results.map((result) => result.latencyMs), (value) => `${Math.round(value)} ms`),
    histogram('Tokens (input + output)', results.map((result) => result.inputTokens + result.outputTokens), (value) => `${Math.round(value)}`),
    '</div>',
    '<h2>Case runs</h2>',
    caseTable(results, options),
  ];
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${style}</style></head><body>${sections.join('\n')}</body></html>\n`;
}

function figures(run: EvalRunRecord, results: readonly EvalCaseResult[]): string {
  const summary = run.summary;
  const passed = results.filter((result) => result.passed).length;
  const rate = results.length === 0 ? 0 : passed / results.length;
  const cost = summary?.costUsd;
  const met = summary?.thresholdMet;
  const items = [
    ['Pass rate', `${(rate * 100).toFixed(1)} %`, rate === 1 ? 'ok' : 'bad'],
    ['Passed', `${passed} / ${results.length}`, ''],
    ['Cost', cost === undefined || cost === null ? 'unknown' : `$${cost.toFixed(4)}`, ''],
    ['Thresholds', met === undefined ? 'running' : met ? 'met' : 'missed', met === true ? 'ok' : 'bad'],
  ];
  const failures = summary === null || summary.thresholdFailures.length === 0 ? '' : `<ul class="bad">${summary.thresholdFailures.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`;
  return `<div class="figures">${items.map(([label, value, tone]) => `<div class="figure">${escapeHtml(label ?? '')}<b class="${tone}">${escapeHtml(value ?? '')}</b></div>`).join('')}</div>${failures}`;
}

function caseTable(results: readonly EvalCaseResult[], options: EvalReportOptions): string {
  const head = '<tr><th>Case</th><th>Run</th><th>Status</th><th>Checks</th><th class="num">Cost</th><th class="num">Latency</th><th class="num">Tokens</th><th>Trace</th></tr>';
  const rows = results.map((result) => {
    const failed = result.checks.filter((check) => !check.passed);
    const verdict = result.passed ? '<span class="check-pass">pass</span>' : `<span class="check-fail">fail (${failed.length} of ${result.checks.length})</span>`;
    return `<tr id="${escapeHtml(`${result.caseId}-${result.repetition}`)}"><td>${escapeHtml(result.caseId)}${result.tags.length === 0 ? '' : ` <span class="meta">${escapeHtml(result.tags.join(', '))}</span>`}</td><td>${result.repetition}</td><td>${escapeHtml(result.status)}${result.error === null ? '' : `<br><span class="bad">${escapeHtml(result.error.code)}</span>`}</td><td class="checks">${verdict}${checkList(result.checks)}</td><td class="num">${result.costUsd === null ? '—' : `$${result.costUsd.toFixed(4)}`}</td><td class="num">${Math.round(result.latencyMs)} ms</td><td class="num">${result.inputTokens + result.outputTokens}</td><td>${result.passed ? '' : traceLinks(result.sessionId, options)}</td></tr>`;
  });
  return `<table>${head}${rows.join('')}</table>`;
}

function checkList(checks: readonly EvalCheckResult[]): string {
  const items = checks.map((check) => {
    const judge = check.judge === undefined ? '' : `<details><summary>judge ${escapeHtml(check.judge.model)}: ${check.judge.verdicts.length} verdicts, agreement ${check.judge.agreement === null ? 'n/a' : `${(check.judge.agreement * 100).toFixed(0)} %`}</summary><ol>${check.judge.verdicts.map((verdict) => `<li>${verdict.error === undefined ? `${verdict.passed === true ? 'pass' : 'fail'} (score ${verdict.score}): ${escapeHtml(verdict.reasoning)}` : `<span class="bad">${escapeHtml(verdict.error.code)}</span>: ${escapeHtml(verdict.error.message)}`}</li>`).join('')}</ol></details>`;
    return `<li class="${check.passed ? 'check-pass' : 'check-fail'}"><b>${escapeHtml(check.name)}</b> <span class="meta">${escapeHtml(check.kind)}</span>: ${escapeHtml(check.detail)}${judge}</li>`;
  });
  return `<details${checks.every((check) => check.passed) ? '' : ' open'}><summary>checks</summary><ul>${items.join('')}</ul></details>`;
}

/** A loop, not /\/+$/: that pattern retries from every slash of a long run, quadratic in its length. */
function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end -= 1;
  return url.slice(0, end);
}

function traceLinks(sessionId: string, options: EvalReportOptions): string {
  const base = withoutTrailingSlashes(options.serverUrl ?? '');
  const href = `${base}/sessions/${encodeURIComponent(sessionId)}`;
  return `<code>${escapeHtml(options.traceCommand?.(sessionId) ?? `keel trace ${sessionId}`)}</code><br><a href="${escapeHtml(href)}">${escapeHtml(href)}</a>`;
}
