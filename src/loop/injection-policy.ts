import { KeelError } from '../errors/index.ts';
import { createInjectionDetector } from '../security/injection/index.ts';
import type { InjectionDetector, InjectionLayer } from '../security/injection/index.ts';
import type { InjectionAction } from '../spec/events.ts';

/**
 * How an agent defends against prompt injection (docs/injection-defence.md). Every layer is on by default;
 * `injection: false` turns them all off.
 */
export interface AgentInjectionOptions {
  /**
   * The trust layout: the instructions first with a standing rule that fenced text is data, every untrusted item
   * (tool results, MCP output, web pages, subagent answers) fenced with the session's random boundary, and a reminder of
   * the user's task after untrusted content. Default true. The context planner (`context`) lays out trust itself.
   */
  readonly trustLayout?: boolean;
  /** Detector layers run on untrusted items as they enter the context; default the detector's own; `[]` scans nothing. */
  readonly layers?: readonly InjectionLayer[];
  /** A detector of your own (other thresholds, an embedding layer); default the built-in rules and classifier. */
  readonly detector?: InjectionDetector;
  /**
   * What a detection does to the model's view of the item: `neutralize` (default) replaces each flagged span with a
   * marked placeholder, `block-result` withholds the whole item, `flag` leaves it. In every case the finding is
   * journaled, the original is kept as a blob for a person, and the session is tainted.
   */
  readonly onDetect?: InjectionAction;
  /**
   * The score from which a finding of the whole-item scorers alone (the classifier, an embedding layer) taints the
   * session. Below it the finding is journaled and shown, and the session is not tainted. Rule findings and detector
   * failures always taint. Default 0.9: at its own threshold (0.5) the classifier flags about one benign item in ten
   * of kinds it was not trained on (tool output, e-mails; see docs/injection-detection.md), too often to stop every
   * later write on it alone.
   */
  readonly classifierTaintScore?: number;
  /** Information-flow control over write and irreversible calls and outbound tools. Default true. */
  readonly informationFlow?: boolean;
  /** What a call escalated by information-flow control gets: a person's approval (`ask`, default) or a denial. */
  readonly escalate?: 'ask' | 'deny';
}

export interface ResolvedInjectionPolicy {
  readonly trustLayout: boolean;
  /** Null when nothing is scanned. */
  readonly detector: InjectionDetector | null;
  readonly layers: readonly InjectionLayer[] | undefined;
  readonly onDetect: InjectionAction;
  readonly classifierTaintScore: number;
  readonly informationFlow: boolean;
  readonly escalate: 'ask' | 'deny';
}

export const defaultClassifierTaintScore = 0.9;

export const injectionDefenceOff: ResolvedInjectionPolicy = { trustLayout: false, detector: null, layers: undefined, onDetect: 'flag', classifierTaintScore: defaultClassifierTaintScore, informationFlow: false, escalate: 'ask' };

const actions: readonly InjectionAction[] = ['neutralize', 'flag', 'block-result'];

let builtIn: InjectionDetector | null = null;

/** The built-in detector, compiled once per process on first use (its rules and weights are shared by every session). */
function builtInDetector(): InjectionDetector {
  builtIn ??= createInjectionDetector();
  return builtIn;
}

/** Checks an agent's injection options once, when the agent is defined; a bad value is an `invalid-config` error. */
export function resolveInjectionPolicy(options: AgentInjectionOptions | false | undefined, agent: string): ResolvedInjectionPolicy {
  if (options === false) return injectionDefenceOff;
  const given = options ?? {};
  const onDetect = given.onDetect ?? 'neutralize';
  if (!actions.includes(onDetect)) throw new KeelError('invalid-config', `Agent "${agent}": injection.onDetect must be one of ${actions.join(', ')}, got ${JSON.stringify(onDetect)}.`);
  const escalate = given.escalate ?? 'ask';
  if (escalate !== 'ask' && escalate !== 'deny') throw new KeelError('invalid-config', `Agent "${agent}": injection.escalate must be "ask" or "deny", got ${JSON.stringify(escalate)}.`);
  const classifierTaintScore = given.classifierTaintScore ?? defaultClassifierTaintScore;
  if (!(classifierTaintScore >= 0 && classifierTaintScore <= 1)) throw new KeelError('invalid-config', `Agent "${agent}": injection.classifierTaintScore must be a number from 0 to 1, got ${JSON.stringify(classifierTaintScore)}.`);
  const scans = given.layers === undefined || given.layers.length > 0;
  return {
    trustLayout: given.trustLayout ?? true,
    detector: scans ? (given.detector ?? lazyBuiltIn) : null,
    layers: given.layers,
    onDetect,
    classifierTaintScore,
    informationFlow: given.informationFlow ?? true,
    escalate,
  };
}

/** Defers compiling the built-in detector until a session scans something. */
const lazyBuiltIn: InjectionDetector = {
  scan: (text, options) => builtInDetector().scan(text, options),
};
