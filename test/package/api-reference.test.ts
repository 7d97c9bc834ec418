// The API reference (`npm run docs:api`) is generated from the types of the package's two entry points. This runs
// TypeDoc with the repository's typedoc.json into a temporary folder: any warning (a public function that takes or
// returns a type the entry points do not export, a broken link) fails it, and every main export must carry an example.
// Type errors are `npm run typecheck`'s job, so TypeDoc skips its own second type-check here.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keel-api-'));
const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');

interface Reflection {
  readonly name: string;
  readonly kind: number;
  readonly children?: readonly Reflection[];
  readonly signatures?: readonly { readonly comment?: { readonly blockTags?: readonly { readonly tag: string }[] } }[];
}

const functionKind = 64;
const mainExports = {
  index: [
    'createKeel',
    'defineAgent',
    'defineTool',
    'defineJavaScriptTool',
    'defineShellTool',
    'connectMcpServer',
    'createSqliteStore',
    'createAnthropicModel',
    'createOpenAIModel',
    'createModelFromSpec',
    'createGateway',
    'createMemoryStore',
    'createMemoryTools',
    'buildTraceTree',
    'renderTraceTree',
    'isKeelError',
    'generateAuditKeyPair',
    'createAuditSigner',
    'createAuditVerifier',
    'defineSqliteQueryTool',
  ],
  testing: ['createScriptedModel', 'startMockAnthropicServer', 'startMockOpenAIServer'],
  'testing/contracts': ['describeJournalContract'],
} as const;

let run: { code: number; output: string };

beforeAll(async () => {
  run = await new Promise((resolve) => {
    execFile(
      process.execPath,
      [typedoc, '--options', join(root, 'typedoc.json'), '--out', join(scratch, 'html'), '--json', join(scratch, 'api.json'), '--skipErrorChecking'],
      { cwd: root, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}` }),
    );
  });
}, 600_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function modules(): readonly Reflection[] {
  return (JSON.parse(readFileSync(join(scratch, 'api.json'), 'utf8')) as Reflection).children ?? [];
}

describe('API reference', () => {
  it('documents exactly the package exports', () => {
    const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { entryPoints: string[]; out: string };
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; scripts: Record<string, string> };
    const exported = Object.values(manifest.exports)
      .flatMap((target) => (typeof target === 'object' && target !== null && 'types' in target ? [String(target.types)] : []))
      .map((types) => types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts'));
    expect(config.entryPoints.sort()).toEqual(exported.sort());
    expect(manifest.scripts['docs:api']).toBe('typedoc');
    expect(readFileSync(join(root, '.gitignore'), 'utf8').split('\n')).toContain(`${config.out.replace(/^\.\//, '')}/`);
  });

  it('generates with no warning: every type a public function takes or returns is exported', () => {
    const problems = run.output.split('\n').filter((line) => /\[(warning|error)\]/.test(line));
    expect(problems).toEqual([]);
    expect(run.code).toBe(0);
    expect(existsSync(join(scratch, 'html', 'index.html'))).toBe(true);
    expect(existsSync(join(scratch, 'html', 'functions', 'index.createKeel.html'))).toBe(true);
  });

  it('gives every main export an example', () => {
    const found = modules();
    expect(found.map((module) => module.name).sort()).toEqual(Object.keys(mainExports).sort());
    const missing = found.flatMap((module) =>
      mainExports[module.name as keyof typeof mainExports].filter((name) => {
        const reflection = module.children?.find((child) => child.name === name && child.kind === functionKind);
        return !(reflection?.signatures ?? []).some((signature) => signature.comment?.blockTags?.some((tag) => tag.tag === '@example'));
      }).map((name) => `${module.name}.${name}`),
    );
    expect(missing).toEqual([]);
  });
});
