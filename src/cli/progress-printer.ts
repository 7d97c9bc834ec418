import { ignoreNever } from '../util/assert-never.ts';
import type { SessionUpdate } from '../loop/index.ts';

const integer = new Intl.NumberFormat('en-US');

function truncate(text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

/** Live progress of a session for a person at a terminal: turn, tokens, cost, each tool call and its outcome. */
export function createProgressPrinter(write: (line: string) => void): (update: SessionUpdate) => void {
  let totalCost: number | null = 0;
  return (update) => {
    if (update.type !== 'event') return;
    const event = update.event;
    switch (event.type) {
      case 'session-start':
        write(`▶ session ${event.sessionId}  agent=${event.agent.name}  model=${event.model.spec ?? `${event.model.provider}:${event.model.modelId}`}`);
        break;
      case 'turn-start':
        write(`turn ${event.turn}`);
        break;
      case 'context-assemble':
        write(`  context  ${event.messageCount} messages  ${event.tokenCounting === 'estimate' ? '≈' : ''}${integer.format(event.tokens.total)} tokens`);
        break;
      case 'model-response': {
        totalCost = totalCost === null || event.costUsd === null ? null : totalCost + event.costUsd;
        const text = event.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join(' ');
        write(
          `  model ${event.model}  in=${integer.format(event.usage.inputTokens)} out=${integer.format(event.usage.outputTokens)}  ${integer.format(Math.round(event.latencyMs))} ms  stop=${event.stopReason}` +
            `  cost=${event.costUsd === null ? 'unknown' : `$${event.costUsd.toFixed(4)}`} (session ${totalCost === null ? 'unknown' : `$${totalCost.toFixed(4)}`})` +
            (event.retries > 0 ? `  after ${event.retries} retries` : ''),
        );
        if (text.trim() !== '') write(`  “${truncate(text, 160)}”`);
        break;
      }
      case 'model-error':
        write(`  model call failed after ${event.retries} retries: ${event.error.code}: ${event.error.message}`);
        break;
      case 'tool-request':
        write(`  → ${event.tool} ${truncate(JSON.stringify(event.input), 140)}`);
        break;
      case 'tool-result':
        write(`  ✓ ${event.tool}  ${event.latencyMs.toFixed(1)} ms  ${integer.format(event.output.length)} chars`);
        break;
      case 'tool-error':
        write(`  ✗ ${event.tool}  ${event.error.code}: ${truncate(event.error.message, 200)}`);
        break;
      case 'injection-detect':
        write(`  ⚠ ${event.tool ?? event.item}: possible prompt injection (${event.findings[0]?.rule ?? 'detector'}, score ${event.score.toFixed(2)}): ${event.action}`);
        break;
      case 'verifier-decision':
        write(`  ⚖ verifier on ${event.subject === 'final-answer' ? 'the final answer' : (event.tool ?? 'call')}: ${event.decision}${event.failure === undefined ? '' : ` (${event.failure})`}: ${truncate(event.reason, 200)}`);
        break;
      case 'quarantined-read':
        write(`  ⧉ quarantined read of ${event.provenance} content: ${event.ok ? `${event.attempts} attempt(s)` : `failed: ${truncate(event.error?.message ?? '', 200)}`}`);
        break;
      case 'side-call':
        write(`  ⧉ side call (${event.purpose}) on ${event.model}: ${event.ok ? `${event.usage.outputTokens} output tokens` : `failed: ${truncate(event.error?.message ?? '', 200)}`}`);
        break;
      case 'child-start':
        write(`  ↳ ${event.mode === 'handoff' ? 'handoff to' : 'subagent'} ${event.agent} (session ${event.childSessionId})`);
        break;
      case 'child-end':
        write(`  ↲ ${event.childSessionId} ${event.status}${event.error === null ? '' : `: ${truncate(event.error.message, 200)}`}`);
        break;
      case 'guard-trip':
        write(`  ⛔ guard ${event.guard} tripped (limit ${event.limit}, actual ${event.actual}): ${event.message}`);
        break;
      case 'session-end':
        write(
          `■ ${event.status} after ${event.turns} turns  tokens in=${integer.format(event.usage.inputTokens)} out=${integer.format(event.usage.outputTokens)}  cost=${event.costUsd === null ? 'unknown' : `$${event.costUsd.toFixed(4)}`}` +
            (event.error === null ? '' : `\n  ${event.error.code}: ${event.error.message}`),
        );
        break;
      case 'context-summary':
      case 'memory-read':
      case 'memory-write':
      case 'model-request':
      case 'tool-decision':
      case 'tool-approval':
      case 'compensation-request':
      case 'compensation-result':
      case 'anomaly':
        break;
      // Workflow steps: `keel trace` shows them.
      case 'workflow-start':
      case 'step-start':
      case 'step-end':
      case 'gate':
      case 'route-decision':
      case 'parallel-join':
        break;
      // Planner events: `keel plan show` and `keel trace` show them.
      case 'plan-proposed':
      case 'plan-invalid':
      case 'plan-approval':
      case 'plan-step-start':
      case 'plan-step-end':
      case 'plan-deviation':
      case 'replan':
        break;
      default:
        ignoreNever(event);
        break;
    }
  };
}
