import { KeelError } from '../errors/index.ts';
import { boundText } from '../util/index.ts';
import { childPath } from './chain.ts';
import { callModelOnce, checkStepName, executionOf } from './steps.ts';
import type { StepContext, StepOutput, StepScope, StepShape, WorkflowStep } from './workflow-types.ts';

/** A classifier's answer: the label, and how sure it is (0 to 1) when it can say. */
export interface Classification {
  readonly label: string;
  readonly confidence: number | null;
  readonly reason: string;
}

/** A function classifier: returns a label, or a label with confidence and reason. */
export type ClassifyFunction<I> = (input: I, context: StepContext) => Promise<string | Partial<Classification> & { label: string }> | string | (Partial<Classification> & { label: string });

export interface ModelClassifierOptions<I> {
  /** The closed set of labels the model must choose from. */
  readonly labels: readonly string[];
  /** What the labels mean and how to choose. */
  readonly instructions: string;
  /** The input as the model sees it; the input itself when a string, else JSON. */
  readonly render?: (input: I) => string;
  readonly model?: string;
}

const labelLimit = 100;

/**
 * A model classifier with a closed set of labels: it answers JSON `{"label", "confidence"}`; an answer outside the
 * set goes to the route's fallback. The call is a journaled step, so a resume reuses its answer.
 * @example
 * ```ts
 * modelClassifier({ labels: ['billing', 'technical'], instructions: 'billing: invoices, refunds; technical: errors, outages.' });
 * ```
 */
export function modelClassifier<I>(options: ModelClassifierOptions<I>): WorkflowStep<I, Classification> {
  if (options.labels.length === 0) throw new KeelError('invalid-argument', 'A model classifier needs at least one label.');
  return {
    name: 'classify',
    kind: 'model',
    shape: { name: 'classify', kind: 'model', detail: [...options.labels].sort().join(',') },
    async execute(input, scope) {
      const shown = options.render === undefined ? (typeof input === 'string' ? input : JSON.stringify(input)) : options.render(input);
      const { text, spend } = await callModelOnce(
        scope,
        options.model,
        {
          system: `You classify requests for an automated router. Answer with JSON only: {"label": one of ${JSON.stringify(options.labels)}, "confidence": a number from 0 to 1}.\n${options.instructions}`,
          user: shown,
        },
        { maxOutputTokens: 128, temperature: 0 },
      );
      return { output: parseClassification(text, options.labels), spend };
    },
  };
}

/** Reads the model's answer: JSON with a label, else the first label named in the text, else the raw text (fallback). */
export function parseClassification(text: string, labels: readonly string[]): Classification {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start >= 0 && end > start && end - start < 10_000) {
    try {
      const parsed = JSON.parse(text.slice(start, end + 1)) as { label?: unknown; confidence?: unknown };
      if (typeof parsed.label === 'string') {
        const confidence = typeof parsed.confidence === 'number' && parsed.confidence >= 0 && parsed.confidence <= 1 ? parsed.confidence : null;
        return { label: boundText(parsed.label.trim(), labelLimit), confidence, reason: 'The model classified the input.' };
      }
    } catch {
      // Not JSON: look for a label in the text below.
    }
  }
  const lower = text.toLowerCase();
  const named = labels.find((label) => new RegExp(`\\b${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i').test(lower.slice(0, 2000)));
  if (named !== undefined) return { label: named, confidence: null, reason: 'The model named the label without the JSON asked for.' };
  return { label: boundText(text.trim(), labelLimit), confidence: null, reason: 'The model answered with no known label.' };
}

function functionClassifier<I>(classify: ClassifyFunction<I>): WorkflowStep<I, Classification> {
  return {
    name: 'classify',
    kind: 'function',
    shape: { name: 'classify', kind: 'function' },
    async execute(input, scope) {
      const answer = await classify(input, executionOf(scope).contextFor(scope));
      const classification: Classification =
        typeof answer === 'string'
          ? { label: answer, confidence: null, reason: 'The classifier function chose it.' }
          : { label: answer.label, confidence: answer.confidence ?? null, reason: answer.reason ?? 'The classifier function chose it.' };
      if (typeof classification.label !== 'string') throw new KeelError('invalid-argument', `The classifier of ${scope.path} returned no label.`);
      return { output: { ...classification, label: boundText(classification.label, labelLimit) } };
    },
  };
}

export interface RouteOptions<I, O> {
  /** Picks the label: a function, or `modelClassifier(…)`. */
  readonly classify: ClassifyFunction<I> | WorkflowStep<I, Classification>;
  /** The branch of each label; the router dispatches in code, never the model. */
  readonly branches: Readonly<Record<string, WorkflowStep<I, O>>>;
  /** Where a label outside `branches` goes. */
  readonly fallback: WorkflowStep<I, O>;
}

/**
 * A classifier picks a label, deterministic code dispatches to that label's branch, and an unknown label goes to the
 * fallback; the decision (label, confidence, branch, fallback or not) is journaled as `route-decision`.
 * @example
 * ```ts
 * const desk = route('desk', {
 *   classify: modelClassifier({ labels: ['billing', 'technical'], instructions: 'billing: invoices; technical: errors.' }),
 *   branches: { billing: billingAgentStep, technical: techAgentStep },
 *   fallback: generalAgentStep,
 * });
 * ```
 */
export function route<I, O>(name: string, options: RouteOptions<I, O>): WorkflowStep<I, O> {
  checkStepName(name);
  const classifier = typeof options.classify === 'function' ? functionClassifier(options.classify) : options.classify;
  const labels = Object.keys(options.branches);
  if (labels.length === 0) throw new KeelError('invalid-argument', `Route ${name} needs at least one branch besides its fallback.`);
  for (const branch of [...Object.values(options.branches), options.fallback]) {
    if (branch.name === classifier.name) throw new KeelError('invalid-argument', `Route ${name}: a branch may not be named ${classifier.name}, the classifier's step name.`);
  }
  const shape: StepShape = {
    name,
    kind: 'route',
    children: [classifier.shape, ...labels.sort().map((label) => ({ ...(options.branches[label] as WorkflowStep<I, O>).shape, detail: `label:${label}` })), { ...options.fallback.shape, detail: 'fallback' }],
  };
  return {
    name,
    kind: 'route',
    shape,
    async execute(input: I, scope: StepScope): Promise<StepOutput<O>> {
      const run = executionOf(scope);
      const parentPath = childPath(scope);
      const classification = await run.runChild(classifier, input, { parentPath, signal: scope.signal });
      const chosen = Object.hasOwn(options.branches, classification.label) ? options.branches[classification.label] : undefined;
      const branch = chosen ?? options.fallback;
      const decision = await run.decide({
        type: 'route-decision',
        path: parentPath,
        label: classification.label,
        branch: branch.name,
        confidence: classification.confidence,
        fallback: chosen === undefined,
        reason: chosen === undefined ? `Label ${JSON.stringify(classification.label)} is not one of ${labels.join(', ')}; the fallback takes it.` : classification.reason,
      });
      // The journaled decision wins over a classifier that would answer differently now.
      const dispatched = decision.fallback ? options.fallback : (options.branches[decision.label] ?? options.fallback);
      return { output: await run.runChild(dispatched, input, { parentPath, signal: scope.signal }) };
    },
  };
}
