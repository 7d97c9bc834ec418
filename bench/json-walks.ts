/**
 * The walks over model-provided JSON: canonicalJson (request hashes, idempotency, audit chain), mapJsonStrings (span
 * redaction, audit well-formedness) and boundToolUse (the gateway's tool-call limits). Shallow values take a
 * recursive fast path; values nested past it take an iterative walk that cannot overflow the stack. A benchmark, not
 * a test: it prints milliseconds per call, best of five runs, and fails only if a walk gives a wrong answer.
 *
 *   node --import tsx bench/json-walks.ts
 */
import { boundToolUse } from '../src/model/tool-arguments.ts';
import { canonicalJson, mapJsonStrings } from '../src/util/index.ts';

function best(run: () => unknown, repeats: number): number {
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round += 1) {
    const started = performance.now();
    for (let index = 0; index < repeats; index += 1) run();
    fastest = Math.min(fastest, (performance.now() - started) / repeats);
  }
  return fastest;
}

const request = {
  system: 's'.repeat(5_000),
  messages: Array.from({ length: 400 }, (_, index) => ({
    role: index % 2 === 0 ? 'user' : 'assistant',
    content: [{ type: 'text', text: 'x'.repeat(2_000) }, { type: 'tool_use', id: `t${index}`, name: 'search', input: { query: 'abc', filters: { a: 1, b: [1, 2, 3] } } }],
  })),
};
const deep = JSON.parse(`${'['.repeat(100_000)}"leaf"${']'.repeat(100_000)}`) as unknown;
const wideArguments = { value: 'x'.repeat(2 * 1024 * 1024) };

const rows: [string, number][] = [
  ['canonicalJson, 900 KB request (fast path)', best(() => canonicalJson(request), 20)],
  ['canonicalJson, 100,000 levels (iterative)', best(() => canonicalJson(deep), 5)],
  ['mapJsonStrings, 900 KB request (fast path)', best(() => mapJsonStrings(request, (text) => text), 20)],
  ['mapJsonStrings, 100,000 levels (iterative)', best(() => mapJsonStrings(deep, (text) => text), 5)],
  ['boundToolUse, 100,000 levels', best(() => boundToolUse({ type: 'tool_use', id: 't', name: 'n', input: deep }), 5)],
  ['boundToolUse, 2 MiB string argument', best(() => boundToolUse({ type: 'tool_use', id: 't', name: 'n', input: wideArguments }), 5)],
];
for (const [name, milliseconds] of rows) console.log(`${name.padEnd(48)} ${milliseconds.toFixed(2).padStart(9)} ms`);

if (canonicalJson(deep).length !== 200_006 || boundToolUse({ type: 'tool_use', id: 't', name: 'n', input: deep }).oversizedInput?.depth !== 100_000) {
  console.error('A walk gave a wrong answer.');
  process.exitCode = 1;
}
