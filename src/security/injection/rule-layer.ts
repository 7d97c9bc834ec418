import { compileLexicon, findLexiconPairs, overrideLexicon, secretLexicon } from './multilingual.ts';
import type { CompiledLexicon } from './multilingual.ts';
import { injectionRules, ruleThreshold } from './rules.ts';
import type { InjectionRule } from './rules.ts';
import { originalSpan } from './text-view.ts';
import type { TextView } from './text-view.ts';

/** A raw rule hit: the rule, its raw score and the ORIGINAL span. */
export interface RuleHit {
  readonly rule: string;
  readonly score: number;
  readonly start: number;
  readonly end: number;
}

/** Matches kept per rule: enough to mark every attack in a document, bounded for a text that repeats one phrase. */
const matchesPerRule = 32;
/** Characters before a match searched for a negation ("you must not reveal the password"). */
const negationReach = 40;
const precedingNegation = /\b(?:not|never|no|don't|dont|cannot|can't|won't|shouldn't|mustn't|refuse to|avoid|without|nor)\b[^.!?\n]{0,30}$/;

function isNegated(text: string, start: number): boolean {
  return precedingNegation.test(text.slice(Math.max(0, start - negationReach), start));
}

function ruleHits(rule: InjectionRule, view: TextView): RuleHit[] {
  const hits: RuleHit[] = [];
  const { text } = view;
  rule.pattern.lastIndex = 0;
  for (let match = rule.pattern.exec(text); match !== null; match = rule.pattern.exec(text)) {
    if (match[0].length === 0) rule.pattern.lastIndex += 1;
    else if (!(rule.unlessNegated === true && isNegated(text, match.index))) {
      hits.push({ rule: rule.id, score: rule.score, ...originalSpan(view, match.index, match.index + match[0].length) });
      if (hits.length >= matchesPerRule) break;
    }
  }
  return hits;
}

/** The compiled rule set; building it normalizes the lexicons once, so a detector builds it once and reuses it. */
export class RuleLayer {
  private readonly rules: readonly InjectionRule[];
  private readonly lexicons: readonly CompiledLexicon[];

  constructor(rules: readonly InjectionRule[] = injectionRules) {
    // Each detector gets its own RegExp objects: `lastIndex` is state, and detectors may run interleaved.
    this.rules = rules.map((rule) => ({ ...rule, pattern: new RegExp(rule.pattern.source, rule.pattern.flags) }));
    this.lexicons = [compileLexicon(overrideLexicon), compileLexicon(secretLexicon)];
  }

  /** Every hit on the normalized view, spans in the original text. */
  hits(view: TextView): RuleHit[] {
    const hits: RuleHit[] = [];
    for (const rule of this.rules) hits.push(...ruleHits(rule, view));
    for (const lexicon of this.lexicons) {
      for (const [start, end] of findLexiconPairs(lexicon, view.text, matchesPerRule)) {
        hits.push({ rule: lexicon.pair.id, score: lexicon.pair.score, ...originalSpan(view, start, end) });
      }
    }
    return hits;
  }
}

/**
 * The rule layer's raw score: the noisy-or of the best score of each distinct rule, so two weak rules together
 * (an urgent marker and a send-to-address) can reach the threshold that neither reaches alone.
 */
export function combinedRuleScore(hits: readonly RuleHit[]): number {
  const best = new Map<string, number>();
  for (const hit of hits) best.set(hit.rule, Math.max(best.get(hit.rule) ?? 0, hit.score));
  let miss = 1;
  for (const score of best.values()) miss *= 1 - score;
  return 1 - miss;
}

export { ruleThreshold };
