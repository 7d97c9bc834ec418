import type { Attributes } from '@opentelemetry/api';

/** The models a session's calls go to, as the metrics recorder last saw them. */
export interface ChatModels {
  provider: string;
  requestModel: string;
}

/** The attribute sets of a model's calls: the same objects for every call of the same models. */
interface ChatAttributes {
  readonly key: string;
  readonly base: Attributes;
  readonly input: Attributes;
  readonly output: Attributes;
  readonly cost: Attributes;
}

/** A tool's attribute sets, for its duration and its outcome counter. */
interface ToolAttributes {
  readonly duration: Attributes;
  readonly ok: Attributes;
  readonly error: Attributes;
}

/** Tools whose attribute sets one session keeps; calls of further tools build theirs each time. */
const rememberedTools = 64;

/**
 * Attribute sets built once per session rather than once per record: every turn records a dozen values with the same
 * few sets, and each set was a fresh object spread from others.
 */
export class SessionAttributes {
  readonly agent: Attributes;
  readonly agentInput: Attributes;
  readonly agentOutput: Attributes;
  private chatSet: ChatAttributes | null = null;
  private readonly tools = new Map<string, ToolAttributes>();

  constructor(agent: string) {
    this.agent = { 'gen_ai.agent.name': agent };
    this.agentInput = { ...this.agent, 'gen_ai.token.type': 'input' };
    this.agentOutput = { ...this.agent, 'gen_ai.token.type': 'output' };
  }

  chat(session: ChatModels, responseModel: string): ChatAttributes {
    const key = `${session.provider}\u0000${session.requestModel}\u0000${responseModel}`;
    if (this.chatSet?.key === key) return this.chatSet;
    const base: Attributes = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': session.provider, 'gen_ai.request.model': session.requestModel, 'gen_ai.response.model': responseModel };
    this.chatSet = {
      key,
      base,
      input: { ...base, 'gen_ai.token.type': 'input' },
      output: { ...base, 'gen_ai.token.type': 'output' },
      cost: { ...this.agent, 'gen_ai.provider.name': session.provider, 'gen_ai.request.model': session.requestModel },
    };
    return this.chatSet;
  }

  tool(name: string): ToolAttributes {
    const known = this.tools.get(name);
    if (known !== undefined) return known;
    const made: ToolAttributes = {
      duration: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': name },
      ok: { 'gen_ai.tool.name': name, 'keel.tool.outcome': 'ok' },
      error: { 'gen_ai.tool.name': name, 'keel.tool.outcome': 'error' },
    };
    if (this.tools.size < rememberedTools) this.tools.set(name, made);
    return made;
  }
}
