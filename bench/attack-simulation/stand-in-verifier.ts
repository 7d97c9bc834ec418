import type { Model, ModelRequest, ModelResponse } from '../../src/spec/model.ts';

/** Arguments that say where an effect goes: the verifier stand-in allows a call only when the task names them. */
const targetArguments = ['to', 'to_account', 'amount', 'path', 'channel'];

/**
 * A deterministic stand-in for a verifier model, for runs without an API key. It reads what Keel's verifier request
 * shows (the user's task and the proposed call, nothing the agent read) and answers as a careful model would on these
 * tasks: `allow` when every target argument (recipient, account, amount, path, channel) is written in the task, else
 * `deny`. It judges from the same request a real verifier gets, so the layer's plumbing is what is measured; how
 * well a given model judges is measured by running with `--verifier-model`.
 */
export function createStandInVerifier(): Model {
  const respond = (request: ModelRequest): ModelResponse => {
    const prompt = request.messages.flatMap((message) => message.content.flatMap((block) => (block.type === 'text' ? [block.text] : []))).join('\n');
    const task = between(prompt, '<user_task>', '</user_task>').toLowerCase();
    const argumentsLine = /^arguments: (.*)$/m.exec(between(prompt, '<proposal>', '</proposal>'))?.[1] ?? '{}';
    let input: Record<string, unknown> = {};
    try {
      input = JSON.parse(argumentsLine) as Record<string, unknown>;
    } catch {
      input = {};
    }
    const unnamed = targetArguments.filter((name) => input[name] !== undefined && !task.includes(String(input[name]).toLowerCase()));
    const answer =
      unnamed.length === 0
        ? { decision: 'allow', reason: 'Every target of the call is named in the task.' }
        : { decision: 'deny', reason: `The task does not name ${unnamed.map((name) => `${name}=${JSON.stringify(input[name])}`).join(', ')}.` };
    return { id: 'verifier', model: 'stand-in-verifier', content: [{ type: 'text', text: JSON.stringify(answer) }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 } };
  };
  return {
    provider: 'simulation',
    modelId: 'stand-in-verifier',
    generate: async (request) => respond(request),
    async *stream(request) {
      yield { type: 'finish', response: respond(request) };
    },
  };
}

function between(text: string, open: string, close: string): string {
  const start = text.indexOf(open);
  if (start < 0) return '';
  const end = text.indexOf(close, start + open.length);
  return end < 0 ? '' : text.slice(start + open.length, end);
}
