import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError, type KeelError } from '../../src/errors/index.ts';
import { connectMcpServer, type McpToolSource } from '../../src/tools/mcp/index.ts';
import { caught, findTool, fixtureStdioTransport, validateAndRun } from './mcp-test-support.ts';

// The fixture server as a child process over stdio, the way most MCP servers are run.

describe('an MCP server over stdio', () => {
  let source: McpToolSource;
  beforeAll(async () => {
    source = await connectMcpServer({ name: 'fixture', transport: fixtureStdioTransport(), timeoutMs: 1_000 });
  });
  afterAll(() => source?.close());

  it('re-lists when the server sends tools/list_changed', async () => {
    const changes: string[][] = [];
    source.onToolsChanged((tools) => changes.push(tools.map((tool) => tool.name)));
    expect(source.tools().map((tool) => tool.name)).not.toContain('fixture__late');
    await validateAndRun(findTool(source, 'fixture__add-tool'), {});
    await expect.poll(() => changes.length).toBe(1);
    expect(changes[0]).toContain('fixture__late');
    expect(findTool(source, 'fixture__late').source).toBe('mcp:fixture');
  });

  it('gives up on a call after its timeout with tool-timeout', async () => {
    const error = await caught(() => validateAndRun(findTool(source, 'fixture__slow'), { ms: 5_000 }));
    expect(isKeelError(error, 'tool-timeout')).toBe(true);
    // The server is still fine afterwards.
    expect(await validateAndRun(findTool(source, 'fixture__add'), { a: 1, b: 2 })).toBe('3');
  });

  it('reports a crash as retryable mcp-unavailable with the command and stderr, fails fast after, and reconnects on refresh', async () => {
    const crash = await caught(() => validateAndRun(findTool(source, 'fixture__crash'), {}));
    expect(isKeelError(crash, 'mcp-unavailable')).toBe(true);
    expect((crash as KeelError).retryable).toBe(true);
    expect((crash as KeelError).message).toContain('fixture-stdio.ts');
    expect((crash as KeelError).message).toContain('fixture: simulated fatal error, exiting');
    expect(source.status().state).toBe('disconnected');

    const started = performance.now();
    const after = await caught(() => validateAndRun(findTool(source, 'fixture__add'), { a: 1, b: 2 }));
    expect(isKeelError(after, 'mcp-unavailable')).toBe(true);
    expect((after as KeelError).retryable).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);

    const tools = await source.refresh();
    expect(source.status()).toEqual({ state: 'connected', lastError: null });
    expect(tools.map((tool) => tool.name)).not.toContain('fixture__late');
    expect(await validateAndRun(findTool(source, 'fixture__add'), { a: 1, b: 2 })).toBe('3');
  });

  it('refuses calls and refreshes after close, without retry', async () => {
    const add = findTool(source, 'fixture__add');
    await source.close();
    const error = await caught(() => validateAndRun(add, { a: 1, b: 2 }));
    expect(isKeelError(error, 'mcp-unavailable')).toBe(true);
    expect((error as KeelError).retryable).toBe(false);
    expect(isKeelError(await caught(() => source.refresh()), 'mcp-unavailable')).toBe(true);
    expect(source.status().state).toBe('closed');
  });
});

describe('an MCP server that cannot start', () => {
  it('reports a process that exits at once with its command and stderr', async () => {
    const error = await caught(() =>
      connectMcpServer({
        name: 'broken',
        transport: { kind: 'stdio', command: process.execPath, args: ['-e', 'console.error("fatal: DATABASE_URL is not set"); process.exit(3)'] },
      }),
    );
    expect(isKeelError(error, 'mcp-unavailable')).toBe(true);
    expect((error as KeelError).message).toContain('MCP server "broken" failed to start');
    expect((error as KeelError).message).toContain(process.execPath);
    expect((error as KeelError).message).toContain('fatal: DATABASE_URL is not set');
    expect((error as KeelError).details.stderrTail).toBe('fatal: DATABASE_URL is not set');
  });

  it('reports a command that does not exist', async () => {
    const error = await caught(() => connectMcpServer({ name: 'missing', transport: { kind: 'stdio', command: '/nonexistent/mcp-server-nowhere' } }));
    expect(isKeelError(error, 'mcp-unavailable')).toBe(true);
    expect((error as KeelError).message).toContain('/nonexistent/mcp-server-nowhere');
    expect((error as KeelError).message).toMatch(/ENOENT/);
  });

  it('gives up on a process that never answers the handshake and stops it', async () => {
    // Ignores stdin closing, as a hung server would.
    const script = 'console.error("silent server pid " + process.pid); setInterval(() => {}, 1000)';
    const error = await caught(() =>
      connectMcpServer({ name: 'silent', transport: { kind: 'stdio', command: process.execPath, args: ['-e', script] }, connectTimeoutMs: 5_000 }),
    );
    expect(isKeelError(error, 'mcp-unavailable')).toBe(true);
    expect((error as KeelError).message).toMatch(/timed out/i);
    const pid = Number(/silent server pid (\d+)/.exec((error as KeelError).message)?.[1]);
    expect(pid).toBeGreaterThan(0);
    await expect.poll(() => isRunning(pid), { timeout: 10_000 }).toBe(false);
  });

  it('reports an HTTP endpoint nobody listens on', async () => {
    const error = await caught(() => connectMcpServer({ name: 'nowhere', transport: { kind: 'http', url: 'http://127.0.0.1:9/mcp' }, connectTimeoutMs: 2_000 }));
    expect(isKeelError(error, 'mcp-unavailable')).toBe(true);
    expect((error as KeelError).message).toContain('http://127.0.0.1:9/mcp');
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
