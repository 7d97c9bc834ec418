import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel, KeelOptions } from '../../src/runtime/index.ts';
import type { Model, ModelRequest } from '../../src/spec/model.ts';

/** A Keel over a fresh SQLite database in a temp folder, with the given models registered by name. */
export function scratchKeel(models: Record<string, Model>, options: KeelOptions = {}): { keel: Keel; directory: string; cleanup: () => Promise<void> } {
  const directory = mkdtempSync(join(tmpdir(), 'keel-workflow-'));
  const keel = createKeel({ database: join(directory, 'keel.db'), models, env: {}, ...options });
  return {
    keel,
    directory,
    cleanup: async () => {
      await keel.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

function promptText(request: ModelRequest): string {
  const first = request.messages.at(-1)?.content[0];
  return first?.type === 'text' ? first.text : '';
}

/**
 * A model whose answer is a function of the prompt (its last user message and system prompt), 100 input and 50
 * output tokens per call; `calls` lists the prompts it was asked, in order.
 */
export function promptModel(answer: (prompt: string, system: string) => string): Model & { readonly calls: string[] } {
  const calls: string[] = [];
  return {
    provider: 'scripted',
    modelId: 'prompt-model',
    calls,
    async generate(request) {
      const prompt = promptText(request);
      calls.push(prompt);
      return {
        id: `msg_${calls.length}`,
        model: 'prompt-model',
        content: [{ type: 'text', text: answer(prompt, request.system ?? '') }],
        stopReason: 'end_turn',
        providerStopReason: 'end_turn',
        usage: { inputTokens: 100, outputTokens: 50, cacheReadTokens: 0, cacheWriteTokens: 0 },
      };
    },
    async *stream(request, signal) {
      yield { type: 'finish', response: await this.generate(request, signal) };
    },
  };
}

/** Waits `ms` unless the signal aborts first (then rejects with its reason). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }, { once: true });
  });
}
