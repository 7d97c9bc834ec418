import { KeelError } from '../errors/index.ts';

export type Segment = 'system' | 'tools' | 'history' | 'memory' | 'tool-results' | 'instruction' | 'output';

/** Per-agent budget configuration. Fractions are of the model's context window. */
export interface BudgetConfig {
  /** Tokens reserved for the answer. Default: the request's `maxOutputTokens`. */
  readonly reservedOutputTokens?: number;
  readonly fractions?: {
    readonly system?: number;
    readonly tools?: number;
    readonly memory?: number;
    /** Tool results inside the history; old large ones are stubbed beyond this. */
    readonly toolResults?: number;
  };
  /** Utilization at which the plan carries a warning. Default 0.70. */
  readonly warnAt?: number;
  /** Utilization the untrimmed context must exceed before history is compacted. Default 0.85. */
  readonly compactAt?: number;
  /** Utilization compaction aims for, so that it does not run again every turn. Default 0.60. */
  readonly compactTo?: number;
}

export interface ResolvedBudgets {
  readonly window: number;
  readonly reservedOutput: number;
  /** window − reservedOutput: what all input segments together may use. */
  readonly input: number;
  readonly system: number;
  readonly tools: number;
  readonly memory: number;
  readonly toolResults: number;
  readonly warnAt: number;
  readonly compactAt: number;
  readonly compactTo: number;
}

export const defaultBudgetFractions = { system: 0.15, tools: 0.15, memory: 0.15, toolResults: 0.35 } as const;

export function resolveBudgets(window: number, maxOutputTokens: number, config: BudgetConfig = {}): ResolvedBudgets {
  const fractions = { ...defaultBudgetFractions, ...config.fractions };
  const warnAt = config.warnAt ?? 0.7;
  const compactAt = config.compactAt ?? 0.85;
  const compactTo = config.compactTo ?? 0.6;
  for (const [name, value] of Object.entries({ ...fractions, warnAt, compactAt, compactTo })) {
    if (!(value >= 0 && value <= 1)) throw new KeelError('invalid-config', `Context budget ${name} must be a fraction between 0 and 1, got ${value}.`);
  }
  if (compactTo > compactAt) throw new KeelError('invalid-config', `Context budget compactTo (${compactTo}) must not exceed compactAt (${compactAt}).`);
  const reservedOutput = config.reservedOutputTokens ?? maxOutputTokens;
  if (reservedOutput >= window) {
    throw new KeelError('model-context-window', `The ${reservedOutput} tokens reserved for output leave no room for input in the model's context window of ${window} tokens.`, {
      details: { reservedOutputTokens: reservedOutput, windowTokens: window },
    });
  }
  const of = (fraction: number): number => Math.floor(window * fraction);
  return {
    window,
    reservedOutput,
    input: window - reservedOutput,
    system: of(fractions.system),
    tools: of(fractions.tools),
    memory: of(fractions.memory),
    toolResults: of(fractions.toolResults),
    warnAt,
    compactAt,
    compactTo,
  };
}

/** Share of the window a request of `totalTokens` input fills (output reservation not included). */
export function utilization(totalTokens: number, window: number): number {
  return window <= 0 ? 1 : totalTokens / window;
}

export function segmentOverBudget(segment: Segment, tokens: number, budget: number): KeelError {
  return new KeelError('model-context-window', `The ${segment} segment needs ${tokens} tokens, over its budget of ${budget} tokens; it cannot be trimmed.`, {
    details: { segment, tokens, budget },
  });
}
