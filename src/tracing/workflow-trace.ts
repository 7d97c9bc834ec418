import type { ErrorRecord, SessionEvent, StepStatus, WorkflowStepKind } from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';

/** One attempt of one workflow step, with what gates, routers and joins decided about it. */
export interface TraceWorkflowStep {
  readonly path: string;
  readonly step: string;
  readonly kind: WorkflowStepKind;
  readonly attempt: number;
  readonly status: StepStatus | 'running';
  readonly startedAt: number;
  readonly latencyMs: number | null;
  readonly childSessionId: string | null;
  readonly usage: Usage | null;
  readonly costUsd: number | null;
  readonly error: ErrorRecord | null;
  /** Gate verdicts, route decisions and parallel joins at this step, in journal order, as sentences. */
  readonly decisions: readonly string[];
}

/** A workflow session's steps in the order they started; composite steps come before the steps inside them. */
export interface TraceWorkflow {
  readonly name: string;
  readonly kind: WorkflowStepKind;
  readonly steps: readonly TraceWorkflowStep[];
  /** Model spend of the workflow's own model steps and gates; agent steps' child sessions count as children. */
  readonly usage: Usage;
  readonly costUsd: number | null;
}

type MutableStep = { -readonly [Key in keyof TraceWorkflowStep]: TraceWorkflowStep[Key] } & { decisions: string[] };

/** The workflow part of a session's trace, or undefined when the session is not a workflow run. */
export function buildWorkflowTrace(events: readonly SessionEvent[]): TraceWorkflow | undefined {
  const start = events.find((event) => event.type === 'workflow-start');
  if (start?.type !== 'workflow-start') return undefined;
  const steps: MutableStep[] = [];
  // The open attempt of each path: events name a path, and the latest attempt of it is the one they are about.
  const latest = new Map<string, MutableStep>();
  const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  let costUsd: number | null = 0;
  for (const event of events) {
    switch (event.type) {
      case 'step-start': {
        const step: MutableStep = {
          path: event.path,
          step: event.step,
          kind: event.kind,
          attempt: event.attempt,
          status: 'running',
          startedAt: event.at,
          latencyMs: null,
          childSessionId: event.childSessionId ?? null,
          usage: null,
          costUsd: null,
          error: null,
          decisions: [],
        };
        steps.push(step);
        latest.set(event.path, step);
        break;
      }
      case 'step-end': {
        const step = latest.get(event.path);
        if (step === undefined) break;
        step.status = event.status;
        step.latencyMs = event.latencyMs;
        step.error = event.error;
        if (event.usage !== undefined) {
          step.usage = event.usage;
          step.costUsd = event.costUsd ?? null;
        }
        if (event.usage !== undefined) {
          usage.inputTokens += event.usage.inputTokens;
          usage.outputTokens += event.usage.outputTokens;
          usage.cacheReadTokens += event.usage.cacheReadTokens;
          usage.cacheWriteTokens += event.usage.cacheWriteTokens;
          costUsd = costUsd === null || event.costUsd === undefined || event.costUsd === null ? null : costUsd + event.costUsd;
        }
        break;
      }
      case 'child-end': {
        // An agent step's spend is its child session's; the trace counts it under children, not in the workflow's own.
        const step = steps.find((candidate) => candidate.childSessionId === event.childSessionId);
        if (step !== undefined) {
          step.usage = event.usage;
          step.costUsd = event.costUsd;
        }
        break;
      }
      case 'gate':
        if (event.usage !== undefined) {
          usage.inputTokens += event.usage.inputTokens;
          usage.outputTokens += event.usage.outputTokens;
          usage.cacheReadTokens += event.usage.cacheReadTokens;
          usage.cacheWriteTokens += event.usage.cacheWriteTokens;
          costUsd = costUsd === null || event.costUsd === undefined || event.costUsd === null ? null : costUsd + event.costUsd;
        }
        latest.get(event.path)?.decisions.push(`gate ${event.gate}: ${event.verdict} (attempt ${event.attempt}): ${event.reason}`);
        break;
      case 'route-decision':
        latest
          .get(event.path)
          ?.decisions.push(
            `route: label "${event.label}"${event.confidence === null ? '' : ` (confidence ${event.confidence.toFixed(2)})`} → ${event.branch}${event.fallback ? ' (fallback)' : ''}: ${event.reason}`,
          );
        break;
      case 'parallel-join': {
        const failed = event.failed.map((branch) => `${branch.branch} ${branch.status}`).join(', ');
        const vote = event.vote === undefined ? '' : `; ${event.vote.method} vote ${event.vote.votes}/${event.vote.total} for ${event.vote.winner ?? 'no answer'}`;
        latest
          .get(event.path)
          ?.decisions.push(`join (${event.policy}): ${event.succeeded.length} ok${failed === '' ? '' : `, failed: ${failed}`}${vote}; ${event.proceed ? 'proceeds' : 'stops'}: ${event.reason}`);
        break;
      }
      default:
        break;
    }
  }
  return { name: start.workflow, kind: start.kind, steps, usage, costUsd };
}

function milliseconds(value: number | null): string {
  if (value === null) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 0)} ms`;
}

/** The steps as an indented tree of lines (for `keel trace`): each path segment is one level. A join or gate verdict is printed after the steps it judged. */
export function renderWorkflowTrace(workflow: TraceWorkflow): string[] {
  const lines = [`workflow ${workflow.name} (${workflow.kind})`];
  // Steps whose closing lines (joins, gate verdicts) wait until the steps inside them are printed.
  const open: { readonly prefix: string; readonly closing: readonly string[] }[] = [];
  const closeUntil = (path: string): void => {
    for (let top = open.at(-1); top !== undefined && !path.startsWith(top.prefix); top = open.at(-1)) {
      open.pop();
      lines.push(...top.closing);
    }
  };
  for (const step of workflow.steps) {
    closeUntil(step.path);
    const depth = step.path.split('/').length - 1;
    const indent = '  '.repeat(depth + 1);
    const outcome = step.status === 'ok' ? 'ok' : step.status === 'running' ? 'no outcome recorded' : `${step.status.toUpperCase()}${step.error === null ? '' : ` ${step.error.code}: ${step.error.message}`}`;
    const spend = step.usage === null ? '' : `  in=${step.usage.inputTokens} out=${step.usage.outputTokens}`;
    const child = step.childSessionId === null ? '' : `  child session ${step.childSessionId}`;
    lines.push(`${indent}step ${step.step} [${step.kind}]${step.attempt > 1 ? ` attempt ${step.attempt}` : ''}  ${milliseconds(step.latencyMs)}  ${outcome}${spend}${child}`);
    const closing: string[] = [];
    for (const decision of step.decisions) {
      if (decision.startsWith('route')) lines.push(`${indent}  ${decision}`);
      else closing.push(`${indent}  ${decision}`);
    }
    // Children live under `path/` (first attempt) or `path#n/` (later attempts).
    open.push({ prefix: step.attempt === 1 ? `${step.path}/` : `${step.path}#${step.attempt}/`, closing });
  }
  closeUntil('');
  return lines;
}
