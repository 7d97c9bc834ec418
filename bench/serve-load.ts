// Load on the HTTP API's event streams (issue 17): N sessions running at once in a `keel serve` process (its own
// process, so its memory is measured alone), one SSE client per session over loopback, for a fixed time. Every client
// drops its connection once, at a random moment, and resumes with Last-Event-ID. At the end each client's received
// sequence numbers are compared with the session's journal: missing and repeated events must both be 0.
//
//   npm run bench:serve                                   # short mode: 20 sessions × 30 s
//   npm run bench:serve -- --sessions 200 --seconds 300   # the full load
//
// Prints the delivery latency p50/p99/max (client receipt minus the event's journal timestamp), the totals, and the
// server's memory over time after a full GC, RSS broken down (bench/serve-load/memory-breakdown.ts): file-backed
// pages, glibc malloc's arenas, V8's heap (used after GC, committed, new space), external buffers. Exits 1 when an
// event was lost or repeated. More options:
//   --clients <n>                    stream only the first n sessions (0: none; the rest are polled until they end)
//   --after-seconds <s>              keep sampling s seconds after every session has ended (default: one sample)
//   --server-node-options=<flags>    node/V8 flags for the server process alone, e.g. --max-old-space-size=512
//                                    (the environment, e.g. MALLOC_ARENA_MAX, reaches it as well)
//   --allocation-profile <file>      sample allocations that reach a full GC, then print them by site
//   --sqlite-cache-kib <n>           PRAGMA cache_size = -n on every SQLite connection of the server (default 16,000)
//   --snapshot-dir <folder> --snapshot-at 15,55   heap snapshots of the server at those seconds
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { readEventStream } from '../test/server/sse-client.ts';
import { summarizeAllocationProfile } from './serve-load/allocation-sites.ts';
import type { MemoryBreakdown } from './serve-load/memory-breakdown.ts';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '20' }, seconds: { type: 'string', default: '30' }, 'interval-ms': { type: 'string', default: '1000' }, 'sample-seconds': { type: 'string', default: '5' }, 'snapshot-dir': { type: 'string' }, 'snapshot-at': { type: 'string', default: '' }, clients: { type: 'string' }, 'after-seconds': { type: 'string' }, 'server-node-options': { type: 'string', default: '' }, 'allocation-profile': { type: 'string' }, 'sqlite-cache-kib': { type: 'string' } } });
const sessions = Number(values.sessions);
const seconds = Number(values.seconds);
const intervalMs = Number(values['interval-ms']);
const sampleSeconds = Number(values['sample-seconds']);
// Fewer clients than sessions isolates what the streams cost from what the sessions cost (0: no stream at all).
const clients = values.clients === undefined ? sessions : Number(values.clients);
// How long the server keeps sampling once every session has ended: V8 gives committed heap back when it goes idle.
const afterSeconds = values['after-seconds'] === undefined ? sampleSeconds : Number(values['after-seconds']);
// V8 or allocator flags for the server process alone, e.g. "--max-semi-space-size=4".
const serverNodeOptions = values['server-node-options'].split(' ').filter((option) => option !== '');
if (!(Number.isInteger(clients) && clients >= 0 && clients <= sessions && afterSeconds >= 0)) throw new Error('--clients must be a whole number from 0 to --sessions, --after-seconds at least 0');
if (!(Number.isInteger(sessions) && sessions > 0 && seconds > 0 && intervalMs > 0)) throw new Error('--sessions, --seconds and --interval-ms must be positive');

const folder = mkdtempSync(join(tmpdir(), 'keel-serve-load-'));
// --expose-gc: the server samples its memory after a full collection; SIGUSR2 writes a heap snapshot into its cwd.
const snapshotDir = values['snapshot-dir'];
const server = spawn(process.execPath, [...serverNodeOptions, '--expose-gc', '--heapsnapshot-signal=SIGUSR2', ...(snapshotDir === undefined ? [] : [`--diagnostic-dir=${snapshotDir}`]), '--import', 'tsx', 'bench/serve-load/server-process.ts', '--db', join(folder, 'keel.db'), '--seconds', String(seconds), '--interval-ms', String(intervalMs), '--sample-seconds', String(sampleSeconds), ...(values['allocation-profile'] === undefined ? [] : ['--allocation-profile', values['allocation-profile']]), ...(values['sqlite-cache-kib'] === undefined ? [] : ['--sqlite-cache-kib', values['sqlite-cache-kib']])], { stdio: ['ignore', 'pipe', 'ignore'] });
// The server must not outlive a run that fails midway.
process.once('exit', () => server.kill('SIGKILL'));
console.error(`serve-load: server process ${server.pid}`);
interface MemorySample extends MemoryBreakdown {
  readonly atSeconds: number;
  readonly load: number;
}
const memory: MemorySample[] = [];
let started = Date.now();
// --snapshot-dir <folder> --snapshot-at 20,80: heap snapshots of the server at those seconds, to compare by constructor.
const snapshotTimers = snapshotDir === undefined ? [] : values['snapshot-at'].split(',').filter((text) => text !== '').map((text) => setTimeout(() => server.kill('SIGUSR2'), Number(text) * 1000));
const lines = createInterface({ input: server.stdout });
const { url, key } = await new Promise<{ url: string; key: string }>((resolve, reject) => {
  lines.once('line', (line) => resolve(JSON.parse(line) as { url: string; key: string }));
  server.once('exit', (code) => reject(new Error(`the server process exited with ${code}`)));
});
lines.on('line', (line) => {
  const sample = (JSON.parse(line) as { memory?: MemoryBreakdown }).memory;
  if (sample !== undefined) memory.push({ atSeconds: Math.round((Date.now() - started) / 1000), ...sample, load: loadavg()[0] as number });
});
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

started = Date.now();

interface ClientTally {
  readonly sessionId: string;
  /** The read key this client streams with. */
  readonly key: string;
  readonly seqs: number[];
  /** Events journaled while the client was connected: delivery latency proper. */
  readonly latencies: number[];
  /** Events journaled before the client (re)connected, sent as catch-up: how long the gap lasted, not delivery. */
  readonly catchUp: number[];
  reconnects: number;
  ended: boolean;
}

async function startSession(index: number): Promise<string> {
  const response = await fetch(`${url}/v1/sessions`, { method: 'POST', headers, body: JSON.stringify({ agent: 'ticker', task: `Tick ${index}.` }) });
  if (response.status !== 201) throw new Error(`starting session ${index}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

/** Streams one session to its end, dropping the connection once after `dropAfter` events and resuming. */
async function follow(tally: ClientTally, dropAfter: number): Promise<void> {
  let last = 0;
  let dropped = false;
  while (!tally.ended) {
    const connectedAt = Date.now();
    const outcome = await readEventStream(`${url}/v1/sessions/${tally.sessionId}/events`, {
      key: tally.key,
      ...(last === 0 ? {} : { lastEventId: last }),
      onEvent: (event) => {
        if (event.event === 'end') {
          tally.ended = true;
          return;
        }
        if (event.event !== 'session-event') return;
        const parsed = JSON.parse(event.data) as { seq: number; at: number };
        (parsed.at >= connectedAt ? tally.latencies : tally.catchUp).push(Date.now() - parsed.at);
        tally.seqs.push(parsed.seq);
        last = parsed.seq;
        if (!dropped && tally.seqs.length >= dropAfter) {
          dropped = true;
          return false;
        }
      },
    });
    if (outcome.status !== 200) throw new Error(`stream of ${tally.sessionId}: HTTP ${outcome.status}`);
    if (!tally.ended) tally.reconnects += 1;
  }
}

// The server caps open event streams per key (32), as it would for real clients: one read key per 25 clients.
const clientsPerKey = 25;
async function readKey(index: number): Promise<string> {
  const response = await fetch(`${url}/v1/keys`, { method: 'POST', headers, body: JSON.stringify({ name: `bench-reader-${index}`, roles: ['read'] }) });
  if (response.status !== 201) throw new Error(`creating read key ${index}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { key: string }).key;
}
const readKeys = await Promise.all(Array.from({ length: Math.ceil(sessions / clientsPerKey) }, (_unused, index) => readKey(index)));
const ids = await Promise.all(Array.from({ length: sessions }, (_unused, index) => startSession(index)));
const tallies: ClientTally[] = ids.slice(0, clients).map((sessionId, index) => ({ sessionId, key: readKeys[Math.floor(index / clientsPerKey)] as string, seqs: [], latencies: [], catchUp: [], reconnects: 0, ended: false }));
const eventsPerSecond = 7000 / intervalMs;
await Promise.all([
  ...tallies.map((tally) => follow(tally, 5 + Math.floor(Math.random() * eventsPerSecond * seconds * 0.8))),
  ...ids.slice(clients).map((sessionId) => untilEnded(sessionId)),
]);

/** A session nobody streams: polled until it has ended. */
async function untilEnded(sessionId: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${url}/v1/sessions/${sessionId}`, { headers });
    const { status } = (await response.json()) as { status: string };
    if (status !== 'running' && status !== 'waiting-approval') return;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

let missing = 0;
let repeated = 0;
let total = 0;
for (const tally of tallies) {
  const response = await fetch(`${url}/v1/sessions/${tally.sessionId}/journal?limit=1000`, { headers });
  let journalSeqs = ((await response.json()) as { events: { seq: number }[] }).events.map((event) => event.seq);
  for (let after = journalSeqs.at(-1) ?? 0; journalSeqs.length % 1000 === 0 && journalSeqs.length > 0;) {
    const next = ((await (await fetch(`${url}/v1/sessions/${tally.sessionId}/journal?limit=1000&after=${after}`, { headers })).json()) as { events: { seq: number }[] }).events.map((event) => event.seq);
    if (next.length === 0) break;
    journalSeqs = [...journalSeqs, ...next];
    after = next.at(-1) as number;
  }
  const received = new Set(tally.seqs);
  repeated += tally.seqs.length - received.size;
  missing += journalSeqs.filter((seq) => !received.has(seq)).length;
  total += tally.seqs.length;
}
const sorted = (values: number[]): number[] => values.sort((left, right) => left - right);
const latencies = sorted(tallies.flatMap((tally) => tally.latencies));
const catchUp = sorted(tallies.flatMap((tally) => tally.catchUp));
const percentile = (values: readonly number[], share: number): number => values[Math.min(values.length - 1, Math.floor(share * values.length))] ?? 0;

for (const timer of snapshotTimers) clearTimeout(timer);
// Samples once every session has ended: what the server keeps of ended sessions, and what V8 gives back when idle.
const endedAt = Math.round((Date.now() - started) / 1000);
await new Promise((resolve) => setTimeout(resolve, afterSeconds * 1000 + 500));
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
rmSync(folder, { recursive: true, force: true });

console.log(`serve-load: ${sessions} sessions, ${clients} SSE clients (one per session, each dropped once and resumed), ${seconds} s, a tick every ${intervalMs} ms per session${serverNodeOptions.length === 0 ? '' : `; server node options ${serverNodeOptions.join(' ')}`}${process.env.MALLOC_ARENA_MAX === undefined ? '' : `; MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX}`}${values['sqlite-cache-kib'] === undefined ? '' : `; SQLite cache ${values['sqlite-cache-kib']} KiB per connection`}`);
console.log(`events delivered ${total}, reconnects ${tallies.reduce((sum, tally) => sum + tally.reconnects, 0)}, missing ${missing}, repeated ${repeated}`);
console.log(`delivery latency of live events (journaled while connected), ms: p50 ${percentile(latencies, 0.5)}, p99 ${percentile(latencies, 0.99)}, max ${latencies.at(-1) ?? 0} (${latencies.length} events)`);
console.log(`age of catch-up events sent after a reconnect, ms: p50 ${percentile(catchUp, 0.5)}, p99 ${percentile(catchUp, 0.99)} (${catchUp.length} events)`);
const megabytes = (bytes: number): string => (bytes / 1048576).toFixed(1).padStart(6);
console.log('server memory over time, after a full GC, MB: RSS = file-backed + malloc main arena + malloc thread arenas (count) + V8 pages (256 KiB mappings) + other anonymous (large objects, code, big mallocs, stacks)');
console.log('  JS heap: used / committed (of it new space) / resident; external (of it array buffers); V8 malloced');
memory.forEach((sample, index) => {
  if (sample.atSeconds > endedAt && (index === 0 || (memory[index - 1] as MemorySample).atSeconds <= endedAt)) console.log(`  -- every session has ended (${endedAt} s) --`);
  const smaps = sample.smaps === null ? 'smaps n/a' : `= file ${megabytes(sample.smaps.fileBacked)} + main arena ${megabytes(sample.smaps.mainArena)} + arenas ${megabytes(sample.smaps.threadArenas)} (${sample.smaps.threadArenaCount}) + V8 pages ${megabytes(sample.smaps.v8Pages)} + other ${megabytes(sample.smaps.otherAnonymous)}`;
  console.log(`  ${String(sample.atSeconds).padStart(4)} s  RSS ${megabytes(sample.rss)} ${smaps}`);
  console.log(`          heap ${megabytes(sample.heapUsed)} / ${megabytes(sample.heapTotal)} (new ${megabytes(sample.newSpace)}) / ${megabytes(sample.heapPhysical)}  external ${megabytes(sample.external)} (${megabytes(sample.arrayBuffers)})  V8 malloced ${megabytes(sample.v8Malloced)}  SQLite connections ${sample.databaseHandles ?? 'n/a'}  load ${sample.load.toFixed(1)}`);
});
printMemorySummary();
/** One line to read boundedness from: where RSS started, peaked (and what it was made of), and ended. */
function printMemorySummary(): void {
  const first = memory[0];
  const last = memory.at(-1);
  if (first === undefined || last === undefined) return;
  const running = memory.filter((sample) => sample.atSeconds <= endedAt);
  const peak = (running.length === 0 ? memory : running).reduce((highest, sample) => (sample.rss > highest.rss ? sample : highest), first);
  const malloc = (sample: MemorySample): string => (sample.smaps === null ? 'n/a' : megabytes(sample.smaps.mainArena + sample.smaps.threadArenas).trim());
  console.log(`memory: RSS ${megabytes(first.rss).trim()} MB at ${first.atSeconds} s; peak while running ${megabytes(peak.rss).trim()} MB at ${peak.atSeconds} s (V8 heap committed ${megabytes(peak.heapTotal).trim()} MB for ${megabytes(peak.heapUsed).trim()} MB used, malloc ${malloc(peak)} MB); ${megabytes(last.rss).trim()} MB at ${last.atSeconds} s, ${last.atSeconds - endedAt} s after every session ended (heap used ${megabytes(last.heapUsed).trim()} MB, committed ${megabytes(last.heapTotal).trim()} MB)`);
}
if (values['allocation-profile'] !== undefined) {
  const summary = summarizeAllocationProfile(values['allocation-profile']);
  console.log(`allocations that reached the old generation or are alive at the end (sampled), ${megabytes(summary.totalBytes)} MB in all; by allocating frame:`);
  for (const site of summary.byFrame) console.log(`  ${megabytes(site.bytes)} MB  ${site.site}`);
  console.log('by the nearest Keel frame on the stack:');
  for (const site of summary.byKeelFrame) console.log(`  ${megabytes(site.bytes)} MB  ${site.site}`);
}
process.exitCode = missing === 0 && repeated === 0 ? 0 : 1;
