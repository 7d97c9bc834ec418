import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import { runCounterfactual } from '../runtime/counterfactual.ts';
import type { CounterfactualResult } from '../runtime/counterfactual.ts';
import type { SessionAccess } from './cli-context.ts';
import { replayAllTurns, replayRequest } from '../runtime/replay.ts';
import type { ContentBlock } from '../spec/message.ts';

export interface ReplayCommandOptions {
  /** The turn to rebuild; without it every turn is checked and listed. */
  readonly turn?: number | undefined;
  /** Counterfactual: another model spec. */
  readonly model?: string | undefined;
  /** Counterfactual: another system prompt, inline or `@file`. */
  readonly system?: string | undefined;
  /** Counterfactual: a context strategy (`window:N`, `elide-tool-results`, `no-tools`). */
  readonly strategy?: string | undefined;
  readonly json: boolean;
}

type Print = (line: string) => void;

/**
 * `keel replay <sessionId> --turn N` prints the exact request sent at that turn, checked against its hash.
 * `keel replay <sessionId>` checks every turn. With `--model`, `--system` or `--strategy` it re-runs that turn
 * (one model call, nothing journaled) and prints how the outcome differs.
 */
export async function replayCommand(keel: Pick<SessionAccess, 'journal' | 'blobs' | 'events'>, positionals: readonly string[], options: ReplayCommandOptions, out: Print, err: Print): Promise<number> {
  const sessionId = positionals[0];
  if (sessionId === undefined) throw new KeelError('invalid-argument', 'Missing session id (keel replay <sessionId> [--turn N] [--model SPEC] [--system TEXT|@FILE] [--strategy NAME]).');
  const counterfactual = options.model !== undefined || options.system !== undefined || options.strategy !== undefined;
  if (options.turn !== undefined && !(Number.isInteger(options.turn) && options.turn >= 1)) {
    throw new KeelError('invalid-argument', `--turn takes a turn number from 1, got ${String(options.turn)}.`);
  }
  if (options.turn === undefined) {
    if (counterfactual) throw new KeelError('invalid-argument', 'A counterfactual re-runs one turn: add --turn N.');
    return verifyAll(keel, sessionId, options.json, out, err);
  }
  if (!counterfactual) {
    const replay = await replayRequest(keel.journal, keel.blobs, sessionId, options.turn);
    if (options.json) {
      out(JSON.stringify({ sessionId, turn: replay.turn, seq: replay.seq, attempts: replay.attempts, requestHash: replay.requestHash, verified: replay.verified, provider: replay.provider, model: replay.model, request: replay.request }));
    } else {
      out(replay.serialized);
      err(`keel: session ${sessionId} turn ${replay.turn}: ${replay.serialized.length} characters, sha256 ${replay.requestHash} verified${replay.attempts > 1 ? ` (attempt ${replay.attempts} of the turn)` : ''}`);
    }
    return 0;
  }
  const result = await runCounterfactual({
    journal: keel.journal,
    blobs: keel.blobs,
    sessionId,
    turn: options.turn,
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.system === undefined ? {} : { systemPrompt: readSystemPrompt(options.system) }),
    ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
    env: process.env,
    cwd: process.cwd(),
  });
  if (options.json) out(JSON.stringify(counterfactualJson(result)));
  else for (const line of renderCounterfactual(result)) out(line);
  return 0;
}

async function verifyAll(keel: Pick<SessionAccess, 'journal' | 'blobs' | 'events'>, sessionId: string, json: boolean, out: Print, err: Print): Promise<number> {
  const turns = await replayAllTurns(keel.journal, keel.blobs, sessionId);
  const bad = turns.filter((turn) => turn.status !== 'verified');
  if (json) {
    out(JSON.stringify(turns.map((turn) => (turn.status === 'verified'
      ? { turn: turn.turn, requestHash: turn.requestHash, status: turn.status, verified: true, messages: turn.replay.request.messages.length, tools: turn.replay.request.tools.length, characters: turn.replay.serialized.length }
      : { turn: turn.turn, requestHash: turn.requestHash, status: turn.status, verified: false, error: turn.error.toRecord() }))));
  } else if (turns.length === 0) {
    out(`Session ${sessionId} has no model requests to replay.`);
  } else {
    for (const turn of turns) {
      out(turn.status === 'verified'
        ? `turn ${turn.turn}  ${turn.requestHash}  verified  ${turn.replay.request.messages.length} messages, ${turn.replay.request.tools.length} tools, ${turn.replay.serialized.length} characters`
        : `turn ${turn.turn}  ${turn.requestHash}  ${turn.status.toUpperCase()}  ${turn.error.message}`);
    }
    if (bad.length === 0) err(`keel: all ${turns.length} request(s) of ${sessionId} rebuilt byte for byte; print one with --turn N.`);
  }
  return bad.some((turn) => turn.status !== 'purged') ? 1 : 0;
}

function readSystemPrompt(value: string): string {
  if (!value.startsWith('@')) return value;
  const path = resolve(process.cwd(), value.slice(1));
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new KeelError('invalid-argument', `--system ${value}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function outcome(content: readonly ContentBlock[], stopReason: string): string {
  const tools = content.flatMap((block) => (block.type === 'tool_use' ? [block.name] : []));
  return `${stopReason}${tools.length === 0 ? '' : `, tool calls: ${tools.join(', ')}`}`;
}

export function renderCounterfactual(result: CounterfactualResult): string[] {
  const lines = [
    `Counterfactual of session ${result.replay.sessionId}, turn ${result.replay.turn} (request ${result.replay.requestHash}, verified)`,
    `changed: ${result.changes.length === 0 ? 'nothing (same request, same model: a re-run)' : result.changes.join('; ')}`,
    `original:       ${result.original === null ? 'no journaled response' : `${result.original.model}: ${outcome(result.original.content, result.original.stopReason)}`}`,
    `counterfactual: ${result.counterfactual.model}: ${outcome(result.counterfactual.content, result.counterfactual.stopReason)}`,
    '',
  ];
  if (result.differences.length === 0) lines.push('No difference in stop reason, tool calls, text, usage or cost.');
  else lines.push('Differences (original → counterfactual):', ...result.differences.map((line) => `  ${line}`));
  return lines;
}

function counterfactualJson(result: CounterfactualResult): Record<string, unknown> {
  return {
    sessionId: result.replay.sessionId,
    turn: result.replay.turn,
    requestHash: result.replay.requestHash,
    verified: result.replay.verified,
    changes: result.changes,
    original: result.original === null ? null : { responseId: result.original.responseId, model: result.original.model, stopReason: result.original.stopReason, content: result.original.content, usage: result.original.usage, costUsd: result.original.costUsd },
    counterfactual: { ...result.counterfactual, provider: result.provider, costUsd: result.costUsd, latencyMs: result.latencyMs },
    differences: result.differences,
  };
}
