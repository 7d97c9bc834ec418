import { KeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import type { ModelRequest } from '../spec/model.ts';
import type { Execution } from './workflow-execution.ts';
import { errorFromRecord } from './workflow-execution.ts';
import type { StepContext, StepScope, StepSpend, WorkflowStep } from './workflow-types.ts';

/** Step names become path segments: short, without `/` or `#`, which separate paths and attempts. */
const stepNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function checkStepName(name: string): void {
  if (!stepNamePattern.test(name)) {
    throw new KeelError('invalid-argument', `Workflow step name ${JSON.stringify(name.slice(0, 80))} is not valid: use 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit.`);
  }
}

/** The same step under another name (a branch key, a voter's number): the name is its journal path. */
export function renamed<I, O>(original: WorkflowStep<I, O>, name: string): WorkflowStep<I, O> {
  checkStepName(name);
  if (original.name === name) return original;
  return { name, kind: original.kind, shape: { ...original.shape, name }, execute: (input, scope) => original.execute(input, scope) };
}

/** The engine's own execution: the step kinds in this folder need more than the public `WorkflowExecution`. */
export function executionOf(scope: StepScope): Execution {
  return scope.run as Execution;
}

/**
 * A step that is a plain async function. Its result must be JSON data (it is journaled); effects outside Keel should
 * use `context.idempotencyKey`, since a step the process died in runs again on resume.
 * @example
 * ```ts
 * const extract = step('extract', async (text: string) => text.split(/\s+/).filter((word) => /^[A-Z]/.test(word)));
 * ```
 */
export function step<I, O>(name: string, run: (input: I, context: StepContext) => Promise<O> | O): WorkflowStep<I, O> {
  checkStepName(name);
  return {
    name,
    kind: 'function',
    shape: { name, kind: 'function' },
    async execute(input, scope) {
      return { output: await run(input, executionOf(scope).contextFor(scope)) };
    },
  };
}

/** What a model step sends: a user prompt, or a whole request without its output limit. */
export type ModelPrompt = string | { readonly system?: string; readonly user: string };

export interface ModelStepOptions<I, O> {
  /** Builds the prompt from the step's input; `context.feedback` says why a gate sent the previous attempt back. */
  readonly prompt: (input: I, context: StepContext) => ModelPrompt;
  /** Turns the model's text into the step's output (throw to fail the step); the text itself by default. */
  readonly parse?: (text: string) => O;
  /** A registered model name or provider spec; the run's model when not given. */
  readonly model?: string;
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
}

/** One model call and its spend, journaled in the calling step's `step-end`. */
export async function callModelOnce(scope: StepScope, choice: string | undefined, prompt: ModelPrompt, limits: { maxOutputTokens?: number; temperature?: number } = {}): Promise<{ text: string; spend: StepSpend }> {
  const run = executionOf(scope);
  const caller = run.services.model(choice);
  const { system, user } = typeof prompt === 'string' ? { system: undefined, user: prompt } : prompt;
  const request: ModelRequest = {
    ...(system === undefined ? {} : { system }),
    messages: [{ role: 'user', content: [{ type: 'text', text: user }] }],
    tools: [],
    maxOutputTokens: limits.maxOutputTokens ?? 1024,
    ...(limits.temperature === undefined ? {} : { temperature: limits.temperature }),
  };
  const { response } = await caller.call(request, { signal: scope.signal, streaming: false });
  const text = response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
  return { text, spend: { usage: response.usage, costUsd: run.services.price(caller, response.usage, response.model) } };
}

/**
 * A step that is one model call: no tools, no loop. Its usage and cost are journaled in its `step-end` and count
 * against the workflow's budget.
 * @example
 * ```ts
 * const summarize = modelStep('summarize', { prompt: (notes: string) => `Summarize in three bullets:\n${notes}` });
 * ```
 */
export function modelStep<I, O = string>(name: string, options: ModelStepOptions<I, O>): WorkflowStep<I, O> {
  checkStepName(name);
  return {
    name,
    kind: 'model',
    shape: { name, kind: 'model', ...(options.model === undefined ? {} : { detail: options.model }) },
    async execute(input, scope) {
      const context = executionOf(scope).contextFor(scope);
      const { text, spend } = await callModelOnce(scope, options.model, options.prompt(input, context), options);
      let output: O;
      try {
        output = options.parse === undefined ? (text as O) : options.parse(text);
      } catch (error) {
        throw new KeelError('model-malformed-response', `Model step ${scope.path} could not use the model's answer: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      return { output, spend };
    },
  };
}

export interface AgentStepOptions<I, O> {
  /** The step's name; the agent's name by default. */
  readonly name?: string;
  /** The child's task: only what it needs (it starts with a clean context). The input as text (JSON when not a string) by default. */
  readonly task?: (input: I, context: StepContext) => string;
  /** Turns the child's final answer into the step's output; the text itself by default. */
  readonly parse?: (output: string) => O;
  /** A smaller slice of what the workflow has left; never a larger one. */
  readonly budget?: { readonly tokens?: number; readonly costUsd?: number };
}

/**
 * A step that is an agent run: a child session of the workflow session, with its own journal, that draws on what
 * is left of the workflow's budget. A resume continues the same child (or reads its result), never a second one.
 * @example
 * ```ts
 * const research = agentStep(researcher, { task: (topic: string) => `Find three sources on ${topic}.` });
 * ```
 */
export function agentStep<I, O = string>(agent: AgentDefinition, options: AgentStepOptions<I, O> = {}): WorkflowStep<I, O> {
  const name = options.name ?? agent.name;
  checkStepName(name);
  return {
    name,
    kind: 'agent',
    shape: { name, kind: 'agent', detail: `${agent.name}:${agent.instructionsHash}` },
    async execute(input, scope) {
      const run = executionOf(scope);
      const context = run.contextFor(scope);
      const task = options.task === undefined ? (typeof input === 'string' ? input : JSON.stringify(input)) : options.task(input, context);
      const slice = options.budget === undefined ? null : { tokens: options.budget.tokens ?? null, costUsd: options.budget.costUsd ?? null };
      const callId = `${scope.path}#${scope.attempt}`;
      const childSessionId = run.childSessionId(scope.path, scope.attempt);
      const record = run.writer.record;
      // Linked both ways: the child's session-start names the workflow, and the workflow journals the child's start and end.
      if (!record.childStarts.has(callId)) {
        await run.writer.append([{ type: 'child-start', turn: 0, callId, childSessionId, agent: agent.name, mode: 'step', ...(slice === null ? {} : { budget: slice }) }]);
      }
      const result = await run.services.runAgent({ agent, callId, sessionId: childSessionId, parentSessionId: run.sessionId, task, signal: scope.signal, slice, deadlineAt: run.budget.deadlineAt, ledger: run.ledger });
      if (!record.childEnds.has(callId) && result.status !== 'awaiting-approval') {
        await run.writer.append([
          { type: 'child-end', turn: 0, callId, childSessionId, status: result.status, output: result.output, error: result.error, usage: result.usage, costUsd: result.costUsd },
        ]);
      }
      if (result.status !== 'completed') {
        if (result.status === 'awaiting-approval') {
          throw new KeelError('invalid-config', `Agent step ${scope.path} (child session ${result.sessionId}) stopped to wait for a person's approval, which a workflow step cannot wait for: give the agent's workflow tools that need no approval, or run it as an agent session.`, { details: { childSessionId: result.sessionId } });
        }
        const error = result.error === null ? new KeelError('internal', `Agent step ${scope.path} ended ${result.status} without an error.`) : errorFromRecord(result.error);
        throw new KeelError(error.code, `Agent step ${scope.path} (child session ${result.sessionId}) ended ${result.status}: ${error.message}`, { details: { childSessionId: result.sessionId } });
      }
      let output: O;
      try {
        output = options.parse === undefined ? (result.output as O) : options.parse(result.output ?? '');
      } catch (error) {
        throw new KeelError('model-malformed-response', `Agent step ${scope.path} could not use the child's answer: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      return { output };
    },
  };
}
