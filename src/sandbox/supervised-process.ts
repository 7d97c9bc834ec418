import { spawn } from 'node:child_process';
import { OutputCollector } from './output-collector.ts';

export interface SupervisedProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly stdin?: string;
  /**
   * Opens fd 3 as the answer pipe: the job writes one JSON line there, at most this many bytes. A longer answer is
   * not buffered: the process is stopped as soon as it passes the cap, so a job cannot fill the host's memory.
   */
  readonly answerBytes?: number;
  /** Written to fd 4 and closed: bwrap reads its seccomp program there (`--seccomp 4`). */
  readonly descriptorFourData?: Buffer;
  /** Starts the process as this user and group (the sandbox user under a root host). */
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  readonly timeoutMs: number;
  readonly outputBytes: number;
  readonly signal?: AbortSignal;
  /** Called with the pid once the process runs; returns a stop function (a resource watchdog, for example). */
  readonly watch?: (pid: number, stop: (reason: string) => void) => () => void;
}

/** Why the supervisor ended the process itself; absent when the process ended on its own. */
export type StopReason = 'timeout' | 'abort' | 'answer' | 'answer-too-large' | 'spawn-failed' | `watchdog:${string}`;

export interface SupervisedProcessOutcome {
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly stoppedBy: StopReason | undefined;
  /** The answer line parsed as JSON (undefined if none came or it was not JSON); the process is killed after it. */
  readonly answer: unknown;
  readonly stdout: OutputCollector;
  readonly stderr: OutputCollector;
  readonly spawnError: Error | undefined;
  readonly durationMs: number;
}

/**
 * Runs one process in its own process group and always ends the whole group: on timeout, on abort, after the
 * job's answer, and when a watchdog fires. The promise settles only after the process has exited and its pipes
 * are drained, so a caller never leaves a process behind.
 */
export function superviseProcess(options: SupervisedProcessOptions): Promise<SupervisedProcessOutcome> {
  const started = performance.now();
  const stdout = new OutputCollector(options.outputBytes);
  const stderr = new OutputCollector(options.outputBytes);
  const useAnswer = options.answerBytes !== undefined;
  const useDescriptorFour = options.descriptorFourData !== undefined;
  const stdio: ('pipe' | 'ignore')[] = ['pipe', 'pipe', 'pipe'];
  if (useAnswer || useDescriptorFour) stdio.push(useAnswer ? 'pipe' : 'ignore');
  if (useDescriptorFour) stdio.push('pipe');
  return new Promise((resolve) => {
    const child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: { ...options.env },
      // A new process group (and session) so that one signal reaches everything the job started.
      detached: true,
      stdio,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let stoppedBy: StopReason | undefined;
    let answer: unknown;
    let spawnError: Error | undefined;
    let stopWatch: () => void = () => {};
    let settled = false;

    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already gone, which is what we wanted.
      }
    };
    const stop = (reason: StopReason): void => {
      if (stoppedBy !== undefined) return;
      stoppedBy = reason;
      killGroup();
    };
    const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
    const onAbort = (): void => stop('abort');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop('abort');

    child.stdout?.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.add(chunk));
    // A job that exits without reading its stdin makes the write fail with EPIPE; that is not our error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.stdin ?? '');
    const descriptorFour = child.stdio[4];
    if (useDescriptorFour && descriptorFour !== null && descriptorFour !== undefined && 'end' in descriptorFour) {
      descriptorFour.on('error', () => {});
      descriptorFour.end(options.descriptorFourData);
    }
    const answerPipe = child.stdio[3];
    if (useAnswer && answerPipe !== null && answerPipe !== undefined) {
      const limit = options.answerBytes ?? 0;
      const chunks: Buffer[] = [];
      let received = 0;
      answerPipe.on('data', (chunk: Buffer) => {
        if (stoppedBy !== undefined) return;
        const newline = chunk.indexOf(0x0a);
        const part = newline === -1 ? chunk : chunk.subarray(0, newline);
        received += part.length;
        if (received > limit) return stop('answer-too-large');
        chunks.push(part);
        if (newline === -1) return;
        try {
          answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        } catch {
          answer = undefined;
        }
        stop('answer');
      });
      answerPipe.on('error', () => {});
    }
    if (child.pid !== undefined && options.watch !== undefined) {
      stopWatch = options.watch(child.pid, (reason) => stop(`watchdog:${reason}`));
    }
    child.on('error', (error) => {
      // A failed spawn has no pid and never closes, so it settles here.
      spawnError ??= error;
      if (child.pid === undefined) finish(null, null);
    });
    child.once('close', (code, signal) => finish(code, signal));

    function finish(exitCode: number | null, exitSignal: NodeJS.Signals | null): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopWatch();
      options.signal?.removeEventListener('abort', onAbort);
      if (stoppedBy === undefined && child.pid === undefined) stoppedBy = 'spawn-failed';
      resolve({ exitCode, exitSignal, stoppedBy, answer, stdout, stderr, spawnError, durationMs: performance.now() - started });
    }
  });
}
