import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError, KeelError } from '../../src/errors/index.ts';
import type { ToolDefinition } from '../../src/tools/index.ts';
import { connectMcpServer, type McpToolSource } from '../../src/tools/mcp/index.ts';
import { startFixtureHttpServer, type FixtureHttpServer } from './fixtures/fixture-http.ts';
import { caught, findTool, validateAndRun } from './mcp-test-support.ts';

// The fixture server over Streamable HTTP on 127.0.0.1, in this process, so its counters can be read directly.

describe('an MCP server over Streamable HTTP', () => {
  let server: FixtureHttpServer;
  let source: McpToolSource;
  beforeAll(async () => {
    server = await startFixtureHttpServer();
    source = await connectMcpServer({ name: 'shop', transport: { kind: 'http', url: server.url }, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await source?.close();
    await server?.stop();
  });

  it('calls a tool', async () => {
    expect(await validateAndRun(findTool(source, 'shop__add'), { a: 19, b: 23 })).toBe('42');
  });

  it('rejects bad input with actionable messages before the call reaches the server', async () => {
    const tool = findTool(source, 'shop__register-order');
    const before = server.state.toolCallRequests;
    const bad = { customer: { name: '', mail: 'x@example.com' }, quantity: 2.5, shipping: 'overnight', coupon: 'FREE' };
    const result = tool.input.safeParse(bad);
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        'customer.name: must NOT have fewer than 1 characters',
        'customer.email: is required',
        'customer.mail: is not an allowed property',
        'quantity: must be integer, got number',
        'shipping: must be one of "standard", "express"',
        'coupon: is not an allowed property',
      ]),
    );
    expect(server.state.toolCallRequests).toBe(before);

    const good = { customer: { name: 'Ada', email: 'ada@example.com' }, quantity: 2, shipping: 'express', tags: ['gift'] };
    expect(await validateAndRun(tool, good)).toBe('order for Ada: 2 by express');
    expect(server.state.toolCallRequests).toBe(before + 1);
  });

  it('raises a destructive tool to irreversible and does not lower a read-only one below the default', () => {
    expect(findTool(source, 'shop__wipe').risk).toBe('irreversible');
    expect(findTool(source, 'shop__add').risk).toBe('write');
  });

  it('gives names providers reject a stable sanitized form that still reaches the right tool', async () => {
    const tool = source.tools().find((candidate) => candidate.name.startsWith('shop__dotted_name_'));
    expect(tool?.name).toMatch(/^shop__dotted_name_[0-9a-f]{8}$/);
    expect(await validateAndRun(tool as ToolDefinition, {})).toBe('dotted ok');
  });

  it('throws tool-failed with the server text for an error result', async () => {
    const error = await caught(() => validateAndRun(findTool(source, 'shop__fail'), {}));
    expect(isKeelError(error, 'tool-failed')).toBe(true);
    expect((error as KeelError).message).toContain('disk full on /var');
    expect((error as KeelError).retryable).toBe(false);
  });

  it('turns content blocks into text and structured content into a value', async () => {
    expect(await validateAndRun(findTool(source, 'shop__mixed-content'), {})).toBe(
      ['report follows', '[image: image/png, 68 bytes]', '[resource: file:///reports/q3.pdf]', '[resource: memo://1]\nmemo body'].join('\n'),
    );
    expect(await validateAndRun(findTool(source, 'shop__weather'), {})).toEqual({ temperature: 21, conditions: 'sunny' });
  });

  it('cancels a call on the server when the signal fires', async () => {
    const controller = new AbortController();
    const reason = new KeelError('tool-timeout', 'the executor gave up');
    const cancelledBefore = server.state.cancelledCalls;
    const pending = validateAndRun(findTool(source, 'shop__slow'), { ms: 10_000 }, controller.signal);
    setTimeout(() => controller.abort(reason), 100);
    // The executor's own reason comes back, so a timeout stays a timeout and not a generic failure.
    expect(await caught(() => pending)).toBe(reason);
    await expect.poll(() => server.state.cancelledCalls).toBe(cancelledBefore + 1);
  });

  it('re-lists when the server sends tools/list_changed and tells listeners', async () => {
    const changes: string[][] = [];
    const unsubscribe = source.onToolsChanged((tools) => changes.push(tools.map((tool) => tool.name)));
    await validateAndRun(findTool(source, 'shop__add-tool'), {});
    await expect.poll(() => source.tools().map((tool) => tool.name)).toContain('shop__late');
    expect(changes.at(-1)).toContain('shop__late');
    expect(await validateAndRun(findTool(source, 'shop__late'), {})).toBe('late ok');
    unsubscribe();
  });

  it('reports a server that went away as retryable mcp-unavailable, and reconnects on the next refresh', async () => {
    const add = findTool(source, 'shop__add');
    await server.stop();
    const error = await caught(() => validateAndRun(add, { a: 1, b: 1 }));
    expect(isKeelError(error, 'mcp-unavailable')).toBe(true);
    expect((error as KeelError).retryable).toBe(true);
    expect((error as KeelError).message).toContain(server.url);
    expect(source.status().state).toBe('disconnected');
    // Fails fast now, without another request.
    expect(isKeelError(await caught(() => validateAndRun(add, { a: 1, b: 1 })), 'mcp-unavailable')).toBe(true);
    // Still down: the refresh's single reconnect fails and says so.
    expect(isKeelError(await caught(() => source.refresh()), 'mcp-unavailable')).toBe(true);

    await server.start();
    const tools = await source.refresh();
    expect(source.status()).toEqual({ state: 'connected', lastError: null });
    // A new server session: the tool added at runtime to the old one is gone.
    expect(tools.map((tool) => tool.name)).not.toContain('shop__late');
    // A definition handed out before the reconnect works on the new connection.
    expect(await validateAndRun(add, { a: 1, b: 1 })).toBe('2');
  });
});
