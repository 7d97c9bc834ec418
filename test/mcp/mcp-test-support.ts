import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ToolContext, ToolDefinition } from '../../src/tools/index.ts';
import type { McpStdioTransportConfig, McpToolSource } from '../../src/tools/mcp/index.ts';

const require = createRequire(import.meta.url);
export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The entry script of an installed reference server, found through its package.json `bin`, as npx would. */
export function referenceServerEntry(packageName: string): string {
  const manifestPath = require.resolve(`${packageName}/package.json`);
  const manifest = require(manifestPath) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : Object.values(manifest.bin)[0];
  if (bin === undefined) throw new Error(`${packageName} has no bin`);
  return join(dirname(manifestPath), bin);
}

/** The fixture server as a stdio child, run through tsx from the repository root (where `--import tsx` resolves). */
export function fixtureStdioTransport(): McpStdioTransportConfig {
  return { kind: 'stdio', command: process.execPath, args: ['--import', 'tsx', join(repositoryRoot, 'test/mcp/fixtures/fixture-stdio.ts')], cwd: repositoryRoot };
}

export function toolContext(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { sessionId: 'session-1', turn: 1, callId: 'call-1', idempotencyKey: 'idem-1', signal };
}

export function findTool(source: McpToolSource, name: string): ToolDefinition {
  const tool = source.tools().find((candidate) => candidate.name === name);
  if (tool === undefined) throw new Error(`no tool ${name}; have ${source.tools().map((candidate) => candidate.name).join(', ')}`);
  return tool;
}

/** What the validate stage does before execute: parse with the tool's zod schema, then run it with the parsed value. */
export async function validateAndRun(tool: ToolDefinition, input: unknown, signal?: AbortSignal): Promise<unknown> {
  const parsed = tool.input.safeParse(input);
  if (!parsed.success) throw parsed.error;
  return tool.execute(parsed.data, toolContext(signal));
}

export async function caught(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the action to throw');
}
