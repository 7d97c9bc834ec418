import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { connectMcpServer, type McpToolSource } from '../../src/tools/mcp/index.ts';
import { caught, findTool, referenceServerEntry, validateAndRun } from './mcp-test-support.ts';

// The official reference servers, installed as dev dependencies and run over stdio as a user would run them.

describe('server-everything over stdio', () => {
  let source: McpToolSource;
  beforeAll(async () => {
    source = await connectMcpServer({
      name: 'everything',
      // server-everything serves stdio only when told to; echo's read-only annotation must not lower an override of `read` either way.
      transport: { kind: 'stdio', command: process.execPath, args: [referenceServerEntry('@modelcontextprotocol/server-everything'), 'stdio'] },
      riskOverrides: { echo: 'read', 'toggle-simulated-logging': 'read' },
    });
  });
  afterAll(() => source?.close());

  it('lists its tools under the server prefix, marked as coming from the server', () => {
    const names = source.tools().map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'everything__get-sum', 'everything__get-tiny-image', 'everything__get-structured-content']));
    for (const tool of source.tools()) {
      expect(tool.name).toMatch(/^everything__[a-zA-Z0-9_-]+$/);
      expect(tool.name.length).toBeLessThanOrEqual(64);
      expect(tool.source).toBe('mcp:everything');
      expect(tool.description.startsWith('[from MCP server "everything"]')).toBe(true);
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.inputSchema).not.toHaveProperty('$schema');
    }
    // Its task-only tool cannot be called through tools/call, so it is reported instead of offered.
    expect(source.skippedTools()).toContainEqual({ name: 'simulate-research-query', reason: expect.stringContaining('task') });
    expect(names).not.toContain('everything__simulate-research-query');
  });

  it('calls echo and get-sum', async () => {
    expect(await validateAndRun(findTool(source, 'everything__echo'), { message: 'hi' })).toBe('Echo: hi');
    expect(await validateAndRun(findTool(source, 'everything__get-sum'), { a: 2, b: 40 })).toMatch(/42/);
  });

  it('rejects input that breaks the server schema, naming the property', () => {
    const result = findTool(source, 'everything__get-sum').input.safeParse({ a: 'two' });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((issue) => ({ path: issue.path, message: issue.message }));
    expect(issues).toEqual(expect.arrayContaining([{ path: ['a'], message: 'must be number, got string' }, { path: ['b'], message: 'is required' }]));
  });

  it('summarizes an image instead of passing its base64 to the model', async () => {
    const output = await validateAndRun(findTool(source, 'everything__get-tiny-image'), {});
    expect(output).toMatch(/\[image: image\/png, \d+ bytes\]/);
    expect(String(output)).not.toContain('iVBORw0KGgo');
  });

  it('returns structured content as a value', async () => {
    const output = await validateAndRun(findTool(source, 'everything__get-structured-content'), { location: 'Chicago' });
    expect(output).toEqual({ temperature: expect.any(Number), conditions: expect.any(String), humidity: expect.any(Number) });
  });

  it('keeps an override of `read` for a read-only tool and raises it for a tool that says it is not read-only', () => {
    expect(findTool(source, 'everything__echo').risk).toBe('read');
    expect(findTool(source, 'everything__toggle-simulated-logging').risk).toBe('write');
    // No override: the default `write` holds although get-sum is annotated read-only.
    expect(findTool(source, 'everything__get-sum').risk).toBe('write');
  });
});

describe('server-filesystem over stdio', () => {
  let source: McpToolSource;
  let allowed: string;
  let outside: string;
  beforeAll(async () => {
    allowed = mkdtempSync(join(tmpdir(), 'keel-mcp-allowed-'));
    outside = mkdtempSync(join(tmpdir(), 'keel-mcp-outside-'));
    writeFileSync(join(allowed, 'notes.txt'), 'inside the allowed directory\n');
    writeFileSync(join(outside, 'secret.txt'), 'must not be readable\n');
    source = await connectMcpServer({
      name: 'files',
      transport: { kind: 'stdio', command: process.execPath, args: [referenceServerEntry('@modelcontextprotocol/server-filesystem'), allowed] },
    });
  });
  afterAll(async () => {
    await source?.close();
    rmSync(allowed, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('reads a file in the allowed directory', async () => {
    const output = await validateAndRun(findTool(source, 'files__read_text_file'), { path: join(allowed, 'notes.txt') });
    expect(JSON.stringify(output)).toContain('inside the allowed directory');
  });

  it('turns the error result for a path outside the allowed directory into tool-failed with the server text', async () => {
    const error = await caught(() => validateAndRun(findTool(source, 'files__read_text_file'), { path: join(outside, 'secret.txt') }));
    expect(isKeelError(error, 'tool-failed')).toBe(true);
    expect((error as Error).message).toMatch(/access denied|outside allowed/i);
    expect((error as Error).message).not.toContain('must not be readable');
  });

  it('raises destructive tools to irreversible and keeps read-only ones at the default', async () => {
    expect(findTool(source, 'files__write_file').risk).toBe('irreversible');
    expect(findTool(source, 'files__move_file').risk).toBe('irreversible');
    expect(findTool(source, 'files__create_directory').risk).toBe('write');
    expect(findTool(source, 'files__read_text_file').risk).toBe('write');
  });
});

describe('server-memory over stdio', () => {
  let source: McpToolSource;
  let directory: string;
  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'keel-mcp-memory-'));
    source = await connectMcpServer({
      name: 'memory',
      transport: {
        kind: 'stdio',
        command: process.execPath,
        args: [referenceServerEntry('@modelcontextprotocol/server-memory')],
        env: { MEMORY_FILE_PATH: join(directory, 'memory.jsonl') },
      },
      defaultRisk: 'read',
    });
  });
  afterAll(async () => {
    await source?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('creates an entity and reads it back from the graph', async () => {
    await validateAndRun(findTool(source, 'memory__create_entities'), {
      entities: [{ name: 'Keel', entityType: 'project', observations: ['an agent runtime'] }],
    });
    const graph = await validateAndRun(findTool(source, 'memory__read_graph'), {});
    expect(graph).toMatchObject({ entities: [{ name: 'Keel', entityType: 'project', observations: ['an agent runtime'] }] });
    // The server really stored it where it was told to.
    expect(readFileSync(join(directory, 'memory.jsonl'), 'utf8')).toContain('"Keel"');
  });

  it('lets annotations raise a `read` default but not lower it', () => {
    expect(findTool(source, 'memory__read_graph').risk).toBe('read');
    expect(findTool(source, 'memory__create_entities').risk).toBe('write');
    expect(findTool(source, 'memory__delete_entities').risk).toBe('irreversible');
  });
});
