import { describe, expect, it } from 'vitest';
import { escapeXml, kindOf, peerChartPanels, renderChart, tickStep } from '../../bench/peers/chart.ts';
import { renderSummary } from '../../bench/peers/report.ts';
import type { RunFacts } from '../../bench/peers/report.ts';
import {
  adapterOrder, checkTargets, concurrentTable, errorGist, journalFootprints, keelVersusPeersTable, median, medianOf, pairedRatio, parseResultLines,
  preferredOrder, sequentialTable,
} from '../../bench/peers/summary.ts';
import type { HarnessResult } from '../../bench/peers/summary.ts';

// A small run in the shape harness/run-all.mjs writes: three repetitions, raw-fetch, one peer and Keel. The numbers
// are chosen so that medians of per-repetition ratios differ from ratios of medians.
function seq(adapter: string, rep: number, cpu: number, wall = cpu): HarnessResult {
  return { adapter, mode: 'seq', rep, sessions: 200, turns: 10, msPerTurn: wall, clientCpuMsPerTurn: cpu, totalMs: wall * 2000, error: null };
}
function conc(adapter: string, rep: number, wall: number, rss: number, eld: number, extra: Partial<HarnessResult> = {}): HarnessResult {
  return { adapter, mode: 'conc', rep, sessions: 1000, turns: 10, totalMs: wall, peakRssMB: rss, eldP99Ms: eld, eldMaxMs: eld, clientCpuMsPerTurn: 1, sessionP50Ms: wall - 100, sessionP99Ms: wall, retainedHeapKBPerSession: 10, error: null, ...extra };
}

const footprint = 'keel journal {"eventsPerSession":69,"blobsPerSession":10,"journalKBPerSession":64.5}';
const fixture: HarnessResult[] = [
  seq('raw-fetch', 1, 1.0), seq('raw-fetch', 2, 2.0), seq('raw-fetch', 3, 1.0),
  seq('keel-sqlite', 1, 0.9), seq('keel-sqlite', 2, 1.6), seq('keel-sqlite', 3, 1.2),
  seq('keel-sqlite-stream', 1, 1.0), seq('keel-sqlite-stream', 2, 1.6), seq('keel-sqlite-stream', 3, 1.5),
  seq('openai-agents', 1, 3.0), seq('openai-agents', 2, 6.0), seq('openai-agents', 3, 3.6),
  conc('raw-fetch', 1, 5000, 300, 500), conc('raw-fetch', 2, 6000, 310, 600), conc('raw-fetch', 3, 5000, 290, 500),
  conc('keel-sqlite', 1, 4000, 340, 400, { stderrTail: footprint }), conc('keel-sqlite', 2, 6600, 360, 700), conc('keel-sqlite', 3, 4500, 345, 450),
  conc('keel-sqlite-stream', 1, 4200, 350, 420), conc('keel-sqlite-stream', 2, 6600, 370, 700), conc('keel-sqlite-stream', 3, 5400, 350, 500),
  conc('openai-agents', 1, 20000, 650, 2000), conc('openai-agents', 2, 22000, 700, 2200), conc('openai-agents', 3, 18000, 600, 1800),
  { adapter: 'mastra', mode: 'seq', rep: 1, error: 'mock stats mismatch: requests=9 (want 10)' },
];
const fixtureText = fixture.map((result) => JSON.stringify(result)).join('\n') + '\n';

const facts: RunFacts = {
  title: 'fixture', date: '2026-11-27T08:00:00.000Z', command: 'tsx bench/peers/run-peers.ts', machine: '2 × test CPU', commit: 'commit abc',
  harness: '/h', scratch: '/s', quick: false, reps: 3, modes: ['seq', 'conc'], seqSessions: 200, concSessions: 1000, durationMinutes: 20,
  load: { start: [4, 3, 2], end: [5, 4, 3], samples: [4, 6, 5] },
  installs: [{ peer: 'oai', status: 'installed', seconds: 7, detail: '' }, { peer: 'lg', status: 'failed', seconds: 3, detail: 'exit 1' }],
  notMeasured: ['lg (npm install failed: exit 1)'],
};

/** A minimal well-formedness check: every tag closes in order and the document is one <svg> element. */
function tagsBalance(svg: string): boolean {
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing === '/') continue;
    if (closing === '/') {
      if (stack.pop() !== name) return false;
    } else stack.push(name as string);
  }
  return stack.length === 0;
}

describe('peer benchmark summary', () => {
  const results = parseResultLines(fixtureText);

  it('parses result lines and reports the line of a broken one', () => {
    expect(results).toHaveLength(fixture.length);
    // A measurement that died carries only its adapter's path; it takes the name the same file reported elsewhere.
    const died = parseResultLines(`${JSON.stringify({ adapter: 'k', mode: 'seq', adapterPath: 'k/a.mjs' })}\n${JSON.stringify({ adapter: 'k/a.mjs', mode: 'conc', adapterPath: 'k/a.mjs', error: 'exit 1' })}\n`);
    expect(died.map((result) => result.adapter)).toEqual(['k', 'k']);
    expect(() => parseResultLines('{"adapter":"x"}\nnot json\n')).toThrow(/line 2/);
  });

  it('takes medians over repetitions and ratios from the same repetition', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(medianOf(results, 'keel-sqlite', 'seq', 'clientCpuMsPerTurn')).toBe(1.2);
    // Per repetition 0.9, 0.8, 1.2: median 0.9. The ratio of the medians would be 1.2.
    expect(pairedRatio(results, 'seq', 'keel-sqlite', 'raw-fetch', 'clientCpuMsPerTurn')).toBeCloseTo(0.9);
    expect(pairedRatio(results, 'seq', 'keel-sqlite', 'openai-agents', 'clientCpuMsPerTurn')).toBeCloseTo(0.3);
    expect(pairedRatio(results, 'seq', 'mastra', 'raw-fetch', 'clientCpuMsPerTurn')).toBeNaN();
  });

  it('orders adapters by the preferred order, unknown ones last', () => {
    expect(adapterOrder(results, preferredOrder)).toEqual(['raw-fetch', 'openai-agents', 'mastra', 'keel-sqlite', 'keel-sqlite-stream']);
  });

  it('renders the tables with one row per measured adapter', () => {
    const sequential = sequentialTable(results, adapterOrder(results, preferredOrder));
    expect(sequential).toContain('| **raw-fetch (baseline)** | 3 | 1.000 | 1.00 | +0.000 | 1.000 | 1.00 | 2,000 |');
    expect(sequential).toContain('| keel-sqlite | 3 | 1.200 | 0.90 | −0.100 | 1.200 | 0.90 | 2,400 |');
    expect(sequential).not.toContain('mastra');
    const concurrent = concurrentTable(results, adapterOrder(results, preferredOrder));
    expect(concurrent).toContain('| keel-sqlite | 3 | 4,500 | 0.90 | 345 | 1.16 | 450 | 0.90 |');
    const versusPeers = keelVersusPeersTable(results, 'keel-sqlite');
    expect(versusPeers).toContain('| openai-agents | 0.30 | 0.30 | 0.25 | 0.52 | 0.25 |');
    expect(versusPeers).not.toContain('| langgraph |');
  });

  it('checks the performance targets', () => {
    const statuses = Object.fromEntries(checkTargets(results).map((check) => [check.target, check.status]));
    expect(statuses).toEqual({
      'keel-sqlite seq client CPU ms/turn ≤ raw-fetch': 'MET',
      'keel-sqlite seq wall ms/turn ≤ 1.2× raw-fetch': 'MET',
      'keel-sqlite conc wall ≤ raw-fetch': 'MET',
      'keel-sqlite conc peak RSS ≤ 350 MB': 'MET',
      'keel-sqlite conc ELD p99 ≤ raw-fetch': 'MET',
      // Per repetition 1.11, 1.00, 1.25.
      'keel-sqlite-stream seq client CPU ms/turn ≤ 1.05× keel-sqlite': 'NOT MET',
      'keel-sqlite-stream conc wall ≤ 1.05× keel-sqlite': 'MET',
    });
    const withoutKeel = checkTargets(results.filter((result) => !result.adapter.startsWith('keel')));
    expect(withoutKeel.every((check) => check.status === 'NOT MEASURED')).toBe(true);
    const heavy = checkTargets(results.map((result) => (result.adapter === 'keel-sqlite' && result.mode === 'conc' ? { ...result, peakRssMB: 400 } : result)));
    expect(heavy.find((check) => check.target.includes('RSS'))?.status).toBe('NOT MET');
    const slowWall = checkTargets(results.map((result) => (result.adapter === 'keel-sqlite' && result.mode === 'seq' ? { ...result, msPerTurn: (result.msPerTurn ?? 0) * 1.5 } : result)));
    expect(slowWall.find((check) => check.target.includes('seq wall'))?.status).toBe('NOT MET');
    const fewer = checkTargets(results.map((result) => (result.mode === 'conc' ? { ...result, sessions: 200 } : result)));
    expect(fewer.find((check) => check.target.includes('RSS'))).toMatchObject({ status: 'NOT MEASURED', measured: '345 MB at 200 sessions; the limit is for 1,000' });
  });

  it('keeps the error lines of a failed measurement\'s stderr tail', () => {
    const tail = 'dist/run.mjs:1064:55 {\n    [cause]: SocketError: other side closed\n        at Socket.<anonymous> (node:internal/deps/undici/undici:6436:28)\n';
    expect(errorGist(tail)).toBe('SocketError: other side closed');
    expect(errorGist('exit 1:  no   stack\n here')).toBe('exit 1: no stack here');
  });

  it('reads the journal footprint Keel prints at teardown', () => {
    expect(journalFootprints(results, 'keel-sqlite')).toEqual(['- keel-sqlite conc: 69.0 events and 10.0 blobs per session; journal file 64.5 KB per session (median of 1)']);
  });

  it('writes a summary with the run facts, failures and targets', () => {
    const summary = renderSummary(results, facts);
    expect(summary).toContain('at the start 4.00 3.00 2.00');
    expect(summary).toContain('**Not measured**: lg (npm install failed: exit 1)');
    expect(summary).toContain('rep 1 seq mastra: mock stats mismatch');
    expect(summary).toContain('## keel-sqlite ÷ each peer');
    expect(summary).toMatch(/\| keel-sqlite-stream seq client CPU ms\/turn ≤ 1\.05× keel-sqlite \| 1\.11× .* \| \*\*NOT MET\*\* \|/);
  });
});

describe('peer benchmark chart', () => {
  const results = parseResultLines(fixtureText);
  const svg = renderChart('Keel & peers <test>', 'subtitle', peerChartPanels(results, preferredOrder));

  it('produces one well-formed SVG document', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(tagsBalance(svg)).toBe(true);
    expect(svg).toContain('Keel &#38; peers &#60;test&#62;');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('names the adapters whose measurements all failed instead of dropping them silently', () => {
    const [sequential, concurrent] = svg.split('<g class="panel">').slice(1);
    expect(sequential).toContain('Not shown, every measurement failed: mastra');
    expect(concurrent).not.toContain('Not shown');
  });

  it('draws one bar per measured adapter in each panel, coloured by kind, with the baseline line', () => {
    const panels = svg.split('<g class="panel">').slice(1);
    expect(panels).toHaveLength(2);
    for (const panel of panels) {
      const bars = [...panel.matchAll(/<rect class="bar (\w+)"[^>]*><title>([^:]+):/g)].map((match) => `${match[1]} ${match[2]}`);
      expect(bars).toEqual(['baseline raw-fetch', 'peer openai-agents', 'keel keel-sqlite', 'keel keel-sqlite-stream']);
      expect(panel).toContain('class="reference"');
    }
    // Bar lengths follow the values: openai-agents' CPU (3.6) is three times keel-sqlite's (1.2).
    const widths = [...(panels[0] as string).matchAll(/<rect class="bar \w+" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((match) => Number(match[1]));
    expect((widths[1] as number) / (widths[2] as number)).toBeCloseTo(3, 1);
  });

  it('helpers: kinds, escaping and round ticks', () => {
    expect([kindOf('raw-fetch'), kindOf('raw-node-http'), kindOf('keel-memory'), kindOf('mastra')]).toEqual(['baseline', 'raw', 'keel', 'peer']);
    expect(escapeXml(`a<b>&"'`)).toBe('a&#60;b&#62;&#38;&#34;&#39;');
    expect(tickStep(4.3)).toBe(1);
    expect(tickStep(53_000)).toBe(20_000);
    expect(tickStep(0)).toBe(1);
  });
});
