/**
 * Layer 1: phrase rules over normalized text (lower case, single spaces, decoded, look-alikes folded). Every
 * pattern is bounded: no nested unbounded repetition and every gap is a bounded character class, so matching is
 * linear in the text however it is crafted. Each rule has a stable id (journaled, documented in
 * docs/injection-detection.md) and a score: a rule at or above the rule threshold flags the text alone, weaker rules
 * add up (noisy-or) with others.
 */
export interface InjectionRule {
  readonly id: string;
  /** The attack type the rule looks for, as in the taxonomy of the docs. */
  readonly category: 'override' | 'roleplay' | 'context' | 'exfiltration' | 'tool' | 'leak' | 'output' | 'multilingual';
  readonly score: number;
  /** Global, lower-case pattern on the normalized text. */
  readonly pattern: RegExp;
  /** The match does not count when a negation ("do not", "never") stands just before it: a rule, not a request. */
  readonly unlessNegated?: boolean;
}

/** A score at or above this flags a text on the rules alone. */
export const ruleThreshold = 0.7;

const overrideVerbs = String.raw`(?:ignore|ignoring|disregard|disregarding|forget|forgetting|skip|abandon|discard|neglect|overlook|set aside|put aside|throw out|stop following|do not follow|don't follow|no longer follow|nevermind|never mind)`;
/** Verbs that are also ordinary software words ("override the default fetch"): they count only with a strong qualifier. */
const technicalVerbs = String.raw`(?:override|overriding|bypass|bypassing|cancel|erase|delete|clear)`;
const strongQualifiers = String.raw`(?:previous|previously|prior|preceding|above|earlier|former|original|initial|system|foregoing|aforementioned|all (?:of )?(?:the |your |my )?(?:previous |prior |above |earlier )?|your (?:previous |prior |original |initial )?)`;
const weakQualifiers = String.raw`(?:the|these|those|any|every|given|existing|current|other|old)`;
const instructionNouns = String.raw`(?:instructions?|instructed|directions?|directives?|prompts?|rules|guidelines?|commands?|orders?|programming|guidance|constraints?|restrictions?|safeguards?|guardrails?|policies|protocols?|training)`;
/** Nouns that mean the model's instructions whatever the qualifier. */
const coreInstructionNouns = String.raw`(?:instructions?|prompts?|directives?|guidelines|programming|system message)`;
/** Up to n characters within one sentence: a dot counts only when a non-space follows (`amy.watson@gmail.com`). */
const gap = (characters: number): string => String.raw`(?:[^.!?\n]|\.(?=\S)){0,${characters}}?`;

const rule = (id: string, category: InjectionRule['category'], score: number, source: string, unlessNegated = false): InjectionRule => ({
  id, category, score, pattern: new RegExp(source, 'g'), ...(unlessNegated ? { unlessNegated } : {}),
});

export const injectionRules: readonly InjectionRule[] = [
  // Overrides: the classic "ignore previous instructions" in its many spellings.
  rule('override.ignore-instructions', 'override', 0.95, String.raw`\b(?:${overrideVerbs}|${technicalVerbs})\b${gap(30)}\b${strongQualifiers}${gap(30)}\b${instructionNouns}\b`, true),
  rule('override.ignore-the-instructions', 'override', 0.75, String.raw`\b${overrideVerbs}\b (?:all )?${weakQualifiers} (?:\S+ ){0,2}?${coreInstructionNouns}\b`, true),
  rule('override.ignore-above', 'override', 0.85, String.raw`\b(?:ignore|disregard|forget)\b (?:all |everything |anything |what(?:ever)? (?:was |is )?(?:said |written |stated )?)?(?:of )?(?:the |that )?(?:above|previous|before|preceding|prior|earlier)\b`, true),
  rule('override.ignore-rest', 'override', 0.8, String.raw`\b(?:ignore|disregard|skip)\b (?:the |all )?(?:rest|remainder) of (?:this|the) (?:data|text|document|content|file|page|email|message|input|context)\b`, true),
  rule('override.supersede', 'override', 0.95, String.raw`\b(?:supersedes?|overrides?|takes? precedence over|replaces?|invalidates?|cancels?|nullif(?:y|ies)|voids?) (?:all |any |every )?(?:of )?(?:the |your )?(?:previous|prior|earlier|other|original|existing|above|preceding|old) ${instructionNouns}`),
  rule('override.new-instructions', 'override', 0.8, String.raw`\b(?:new|updated|revised|real|actual|true|secret|hidden|replacement|override|overriding|priority) (?:system )?(?:instructions?|directives?|orders|rules|objective|mission|task|prompt)\b ?(?::|are\b|follow\b|below\b|as follows)`),
  rule('override.strictly-follow', 'override', 0.85, String.raw`\b(?:strictly|carefully|exactly|only) (?:adhere to|follow|obey|comply with|execute|do)\b (?:the |these |my |this )?(?:following|new|next|below) (?:instructions?|commands?|orders?|directions?|steps?|tasks?)`),
  rule('override.from-now-on', 'override', 0.75, String.raw`\bfrom now on\b,? (?:you (?:are|will|must|should|shall|can)|your|always|only|never|respond|answer|act|reply|ignore|do not|don't)`),
  rule('override.urgent-marker', 'override', 0.55, String.raw`\b(?:important|urgent|attention|warning|alert|notice)\b ?(?:!{2,}|:{1} ?!{1,})`),
  rule('override.before-task', 'override', 0.8, String.raw`\bbefore (?:you |we )?(?:can |could |do |start |begin |continue |proceed )?(?:solv|complet|answer|finish|do|continu|proceed|perform|execut|address|respond)(?:e|ing)? (?:to )?(?:the|your|my|this|any|that) (?:original |current |actual |user'?s? )?(?:task|request|question|query|instructions?|job|assignment)\b${gap(60)}\b(?:please |you (?:must|should|need to|have to) )?(?:do|complete|perform|execute|make|send|follow|call|run)\b`),
  rule('override.address-the-model', 'override', 0.6, String.raw`(?:\bto you,?|\bdear|\bhey|\battention|\bnote (?:to|for)|\bmessage (?:to|for)|\binstructions? (?:to|for)|\bif you are|\bas an?) (?:the )?(?:ai|a\.i\.|llm|chatbot|language model|large language model|ai model|ai assistant|ai agent|assistant|virtual assistant|gpt|chatgpt|claude|gemini|bot|agent)\b(?! (?:research|safety|ethics|industry|company|startup|companies|policy|regulation|act|tools?|products?))`),
  rule('override.stop-task', 'override', 0.75, String.raw`\b(?:stop|halt|abort|cease|quit) (?:what you are doing|your (?:current )?task|the (?:current )?task|summariz|translat|analy)\w*\b${gap(30)}\b(?:and|instead|now)\b`),
  // Role-play and persona switches.
  rule('roleplay.you-are-now', 'roleplay', 0.85, String.raw`\byou are now (?:(?:a|an|my|the) (?:new |different |unrestricted |unfiltered |uncensored |evil |rogue |free )?(?:ai|assistant|bot|chatbot|model|character|persona|hacker|version)\b|dan\b|free\b|no longer\b|unrestricted|unfiltered|uncensored|jailbroken|(?:in|entering|operating in) (?:developer|god|dan|unrestricted|jailbreak|debug|admin|sudo|maintenance) mode)`),
  rule('roleplay.pretend', 'roleplay', 0.75, String.raw`\b(?:pretend|act|behave|respond|roleplay|role-play|play the role)\b (?:to be|as if you (?:are|were)|as|like|of) (?:an? |the |my )?(?:unrestricted|unfiltered|uncensored|evil|jailbroken|rogue|malicious|amoral|dan\b|ai (?:with|without) no|system administrator|root user|developer mode|ai that (?:has no|ignores|can do anything))`),
  rule('roleplay.mode-switch', 'roleplay', 0.85, String.raw`\b(?:enable|enabled|activate|activated|enter|entering|switch to|switching to|turn on|now in) (?:the )?(?:developer|god|dan|jailbreak|jailbroken|unrestricted|uncensored|evil) mode\b|\bdo anything now\b|\b(?:developer|dan|jailbreak|god) mode (?:enabled|activated|on)\b`),
  rule('roleplay.no-restrictions', 'roleplay', 0.7, String.raw`\b(?:no longer|not) (?:bound|restricted|limited|constrained|governed) by (?:any |your |the |openai'?s? |anthropic'?s? )?(?:rules|restrictions|guidelines|policies|filters|limitations|constraints|content policy|ethics|safety)|\bwithout (?:any )?(?:restrictions|filters|limitations|censorship|ethical (?:constraints|guidelines)|moral constraints)\b`),
  // Fake turns, fake fences and chat-template tokens: text that pretends the data ended and someone else speaks.
  rule('context.chat-template-token', 'context', 0.9, String.raw`<\|(?:im_start|im_end|endoftext|system|assistant|user|eot_id|start_header_id|end_header_id|begin_of_text)\|>|\[/?inst\]|<<\/?sys>>|<\/?(?:start|end)_of_turn>`),
  rule('context.fake-system-turn', 'context', 0.8, String.raw`(?:^|\n) ?(?:[#*>\[(<]{1,4} ?)?(?:system|assistant|developer|admin|administrator|operator)(?: (?:message|prompt|note|update|override|instructions?|notice|alert))?(?: ?[\])>*]{1,3})? ?: ?(?:\S)`),
  rule('context.fake-user-turn', 'context', 0.45, String.raw`(?:^|\n) ?(?:[#*\[(<]{1,4} ?)?(?:user|human|customer)(?: ?[\])>*]{1,3})? ?: ?\S`),
  rule('context.system-tag', 'context', 0.85, String.raw`\[(?:system|admin|developer|sys)(?: (?:message|note|override|prompt|instructions?))?\]|<\/?(?:system|admin|developer|sys)(?:[_ -]?(?:message|prompt|instructions?|note|override|update))?>|\(#(?:system|context|assistant|inner_monologue|message)\)|#{2,} ?\(?(?:system|admin|developer)[_ ]?(?:message|prompt|instructions?)\)?`),
  rule('context.instruction-tag', 'context', 0.6, String.raw`<\/?(?:instructions?|important|information|secret|hidden|admin_instructions?|new_instructions?)>|\[(?:instructions?|important|hidden)\]`),
  rule('context.fake-end', 'context', 0.85, String.raw`(?:[<\[=#*(-]{1,6} ?|\n ?)(?:end|stop|close) (?:of )?(?:the )?(?:session|conversation|context|document|input|prompt|instructions|data|text|email|user input|tool output|results?|transcript|chat)\b ?[>\]=#*)-]{0,6}`),
  rule('context.delimiter-then-directive', 'context', 0.75, String.raw`(?:={4,}|-{5,}|#{4,}|\*{5,}|_{5,}|~{5,}) ?\n? ?(?:new |real |updated |actual )?(?:instructions?|system|task|prompt|ignore|override|disregard|stop|attention|important)\b`),
  // Exfiltration: data carried out in a URL, an image the client renders, or a message to an outside address.
  rule('exfiltration.markdown-image-data', 'exfiltration', 0.9, String.raw`!\[[^\]\n]{0,200}\] ?\( ?(?:https?:)?\/\/[^\s)]{1,300}[?&=\/][^\s)]{0,300}(?:\{|\[|<|\$|data|secret|password|passwd|token|key|summary|history|conversation|chat|prompt|info|base64|encoded|user|email|q=)`),
  rule('exfiltration.markdown-image-query', 'exfiltration', 0.5, String.raw`!\[[^\]\n]{0,200}\] ?\( ?(?:https?:)?\/\/[^\s)?]{1,300}\?[^\s)]{1,400}\)`),
  rule('exfiltration.render-url-with-data', 'exfiltration', 0.85, String.raw`\b(?:append|add|include|insert|attach|encode|put|concatenate|replace)\b${gap(60)}\b(?:summary|conversation|chat history|history|data|secrets?|passwords?|private|personal|email address|credentials|tokens?|api keys?|the user'?s?|this information|the information|context)\b${gap(60)}\b(?:to|in|into|at the end of|as a parameter (?:of|to)|as the query of) (?:the |this |that |a )?(?:url|link|image|query string|parameter|markdown)`),
  rule('exfiltration.send-to-address', 'exfiltration', 0.6, String.raw`\b(?:send|forward|email|e-mail|mail|post|upload|leak|share|exfiltrate|transmit|deliver|bcc|cc)\b${gap(100)}\bto\b:? ?(?:'|")?(?:[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,4}\.[a-z]{2,}|https?:\/\/)`),
  rule('exfiltration.gather-and-send', 'exfiltration', 0.8, String.raw`\b(?:retrieve|get|fetch|read|collect|gather|extract|find|access|look up|download|copy|compile|list)\b${gap(120)}\b(?:and|then)(?: then)? (?:send|email|e-mail|forward|post|upload|transfer|share|transmit|mail|leak)\b${gap(80)}\b(?:to|with)\b`),
  rule('exfiltration.leak-data-to', 'exfiltration', 0.8, String.raw`\b(?:send|forward|email|post|upload|leak|share|transmit|exfiltrate)\b (?:all |the |my |your |his |her |their |any )?(?:(?:saved |stored |private |personal |sensitive |confidential |financial |medical |login |account )+)?(?:passwords?|credentials|api keys?|secrets?|ssn|social security numbers?|credit card(?: numbers?| details)?|bank (?:account )?details|addresses|contacts|chat history|conversation history|system prompt|private data|personal (?:data|information|details)|emails|messages|files|documents)\b${gap(60)}\bto\b`),
  // Text shaped like a tool call, hoping the runtime or the model executes it.
  rule('tool.json-call', 'tool', 0.75, String.raw`\{ ?"(?:name|tool|function|tool_name|action|function_name|recipient_name)" ?: ?"[a-z0-9_.\-]{2,64}" ?, ?"(?:arguments|args|parameters|input|params|action_input|tool_input)" ?:`),
  rule('tool.call-tag', 'tool', 0.8, String.raw`<\/?(?:tool_call|tool_use|function_call|function_calls|invoke|antml:invoke|tool_code|execute)\b`),
  rule('tool.react-action', 'tool', 0.75, String.raw`(?:^|\n) ?action ?: ?[a-z_][a-z0-9_]{1,63} ?\n ?action[ _]input ?:`),
  rule('tool.call-request', 'tool', 0.5, String.raw`\b(?:call|invoke|use|execute|run|trigger)\b (?:the )?\x60?[a-z][a-z0-9]*_[a-z0-9_]+\x60? (?:tool|function|api|action)?\b${gap(20)}\b(?:with|to|on)\b`),
  // Prompt leaks: requests for the hidden instructions or secrets.
  rule('leak.system-prompt', 'leak', 0.85, String.raw`\b(?:reveal|show|print|output|repeat|display|tell me|tell us|give me|share|disclose|leak|spell out|spell check|recite|write out|write down|dump|expose|summarize|translate|what (?:is|are|was|were))\b${gap(30)}\b(?:system prompt|system message|system instructions|initial (?:prompt|instructions)|original (?:prompt|instructions)|hidden (?:prompt|instructions)|secret (?:prompt|instructions)|(?:previous|prior|above|preceding|earlier|first|initial) (?:instructions|prompt|text|words|messages?)|pre-?prompt|instructions (?:above|you were given|you received|given to you)|everything (?:above|before)|text above|words above|your (?:instructions|rules|guidelines|directives|programming|configuration))\b`, true),
  rule('leak.secret-value', 'leak', 0.75, String.raw`\b(?:reveal|show|print|output|tell me|tell us|give me|share|disclose|leak|spell out|write out|provide|what (?:is|are|was|were))\b${gap(20)}\b(?:the |your |my |this |that )?(?:secret (?:key|code|word|password|phrase|token|number)|password|passphrase|api key|access token|private key|credentials)\b`, true),
  rule('leak.repeat-above', 'leak', 0.8, String.raw`\b(?:repeat|print|output|copy|echo|recite)\b (?:back |out )?(?:the |all |everything |every word |all the words |the words |the text )?(?:of )?(?:above|previous|before|written above|prior|preceding|so far)\b`, true),
  // Instructions aimed at the answer itself (encode, translate, insert a sentence): output manipulation.
  rule('output.modify-answer', 'output', 0.75, String.raw`\b(?:modify|change|alter|end|start|begin|conclude|finish|prefix|append to|rewrite|format|encode|encrypt|scramble|reverse|translate|write|compose|phrase) (?:all |each |every )?(?:of )?your (?:answer|response|reply|output|responses|answers|replies|words|sentences|summary)\b`),
  rule('output.in-your-answer', 'output', 0.75, String.raw`\b(?:include|insert|add|mention|put|embed|append|use|incorporate|subtly|hint|promote|recommend|advertise)\b${gap(80)}\b(?:in|into|within|to|throughout|at the (?:end|beginning|start) of) (?:each of |every |all of )?your (?:answer|response|reply|output|responses|answers|replies|summary)\b`),
  rule('output.answer-must', 'output', 0.7, String.raw`\byour (?:answer|response|reply|output|responses|answers|replies|summary)s? (?:should|must|needs to|has to|have to|will) (?:only )?(?:include|contain|mention|be written|be in|start|begin|end|say|state|use|promote|recommend|claim|always)\b`),
  rule('output.encode-answer', 'output', 0.75, String.raw`\b(?:answer|respond|reply|write|output|translate|encode|convert)\b${gap(30)}\b(?:in|into|using|with|to) (?:base64|base 64|rot13|rot-13|morse code|binary|hexadecimal|hex|caesar cipher|leetspeak|pig latin|reverse order|backwards|emojis only)\b`),
  rule('output.say-exactly', 'output', 0.6, String.raw`\b(?:just|only|simply|instead) (?:say|print|output|respond with|reply with|write|answer with|return)\b ?:? ?["'\x60]`),
];
