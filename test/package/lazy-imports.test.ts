// `import 'keel'` must not load what a process running sessions never uses: every module loaded is heap that old
// space carries (and V8 lets old space grow to a multiple of what is live), in every process that imports Keel.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const probe = fileURLToPath(new URL('./fixtures/loaded-packages.mjs', import.meta.url));

function packagesLoadedBy(entry: string): string[] {
  const output = execFileSync(process.execPath, ['--import', 'tsx', probe, entry], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(output) as string[];
}

describe('importing keel', () => {
  it('loads the journal and schema packages, but not the MCP SDK, the server logger or the HTTP adapter', () => {
    const loaded = packagesLoadedBy('src/index.ts');
    // What a session needs is there, which also shows the probe sees both ES modules and CommonJS ones.
    expect(loaded).toContain('zod');
    expect(loaded).toContain('better-sqlite3');
    // Loaded with the first MCP server connected or logged into (src/tools/mcp/mcp-sdk.ts), with its JSON-schema validator.
    expect(loaded).not.toContain('@modelcontextprotocol/sdk');
    expect(loaded).not.toContain('ajv');
    // Loaded when a server creates its logger and when it listens (src/server/create-server.ts).
    expect(loaded).not.toContain('pino');
    expect(loaded).not.toContain('@hono/node-server');
    // The providers' SDKs load on a model's first call through them (the direct clients need neither); ioredis and pg
    // with the first Redis or PostgreSQL store or listener.
    for (const name of ['openai', '@anthropic-ai/sdk', 'ioredis', 'pg']) expect(loaded).not.toContain(name);
  }, 90_000);

  it('for the CLI, registering the commands loads commander alone; a command loads the runtime when it runs', () => {
    const loaded = packagesLoadedBy('src/cli/main.ts').filter((name) => name !== 'tsx' && name !== 'esbuild');
    expect(loaded).toEqual(['commander']);
  }, 90_000);
});
