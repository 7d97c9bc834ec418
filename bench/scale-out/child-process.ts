// Starting the benchmark's processes and reading their READY / RESULT / METRICS lines.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { ProcessMetrics } from './process-metrics.ts';

export interface BenchChild {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** The RESULT line's JSON, for processes that run their own sessions. */
  readonly result: Promise<{ readonly wallMs: number }>;
  readonly metrics: Promise<ProcessMetrics>;
  readonly exited: Promise<number | null>;
  output(): string;
}

/** Starts `node --import tsx <script> …args` and watches its lines; a process that exits early rejects what it owes. */
export function startChild(script: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): BenchChild {
  // SCALE_OUT_NODE_FLAGS adds Node flags NODE_OPTIONS refuses, e.g. "--cpu-prof --cpu-prof-dir=/tmp/profiles".
  const flags = (process.env.SCALE_OUT_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  // SCALE_OUT_LOG_DIR keeps each process's whole output (the SDK's invocation log included) for a later look.
  const logDirectory = process.env.SCALE_OUT_LOG_DIR;
  const logFile = logDirectory === undefined ? undefined : join(logDirectory, `${args[0] ?? 'child'}-${child.pid ?? 0}.log`);
  const keep = (chunk: Buffer): void => {
    if (logFile !== undefined) appendFileSync(logFile, chunk);
  };
  let buffered = '';
  const waiters = new Map<string, { resolve: (value: string) => void; reject: (error: Error) => void }>();
  const promised = new Map<string, Promise<string>>();
  for (const tag of ['READY', 'RESULT', 'METRICS']) {
    promised.set(tag, new Promise<string>((resolve, reject) => waiters.set(tag, { resolve, reject })));
    promised.get(tag)?.catch(() => undefined);
  }
  const onLine = (line: string) => {
    if (lines.length < 400) lines.push(line);
    const tag = /^(READY|RESULT|METRICS)\b ?(.*)$/.exec(line);
    if (tag !== null) waiters.get(tag[1] ?? '')?.resolve(tag[2] ?? '');
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    keep(chunk);
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (lines.length < 400) lines.push(chunk.toString('utf8').trimEnd());
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const waiter of waiters.values()) waiter.reject(new Error(`${script} ${args[0] ?? ''} exited (${code}) before it reported:\n${lines.slice(-30).join('\n')}`));
      resolve(code);
    }),
  );
  const parsed = <T>(tag: string): Promise<T> => {
    const value = promised.get(tag)!.then((text) => JSON.parse(text) as T);
    // Workers never print RESULT: an exit rejects it, which only matters to a caller that awaits it.
    value.catch(() => undefined);
    return value;
  };
  return {
    child,
    ready: promised.get('READY')!.then(() => undefined),
    result: parsed('RESULT'),
    metrics: parsed('METRICS'),
    exited,
    output: () => lines.join('\n'),
  };
}
