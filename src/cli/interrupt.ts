import { KeelError } from '../errors/index.ts';
import type { Print } from './cli-context.ts';

/** Exit codes of a process stopped by a signal, as shells report them (128 + the signal number). */
export const interruptedExitCode = 130;
const terminatedExitCode = 143;

export interface InterruptWatch {
  /** Aborted at the first Ctrl-C (or SIGTERM): the session ends cleanly as `cancelled`. */
  readonly signal: AbortSignal;
  /** The exit code the signal asks for, once one arrived. */
  exitCode(): number | undefined;
  dispose(): void;
}

/**
 * While a session runs, the first Ctrl-C cancels it cleanly (its journal gets a `session-end` with status
 * cancelled) and the process then exits 130; a second Ctrl-C exits 130 at once.
 */
export function watchInterrupt(err: Print): InterruptWatch {
  const controller = new AbortController();
  let code: number | undefined;
  const handler = (signalCode: number) => (): void => {
    if (controller.signal.aborted) process.exit(signalCode);
    code = signalCode;
    err('keel: cancelling the session (press Ctrl-C again to exit at once)…');
    controller.abort(new KeelError('cancelled', `Cancelled from the terminal (${signalCode === interruptedExitCode ? 'SIGINT' : 'SIGTERM'}).`));
  };
  const onInterrupt = handler(interruptedExitCode);
  const onTerminate = handler(terminatedExitCode);
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  return {
    signal: controller.signal,
    exitCode: () => code,
    dispose: () => {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onTerminate);
    },
  };
}
