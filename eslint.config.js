// Layer rules of docs/architecture.md: a folder under src/ imports only from the levels below it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

const levels = {
  spec: 0, errors: 0, util: 0,
  model: 1, store: 1, memory: 1, security: 1, sandbox: 1, tracing: 1,
  tools: 2, context: 2,
  loop: 3,
  patterns: 4, durable: 4, workflow: 4, planner: 4,
  runtime: 5,
  // Services built on the runtime; the CLI sits above them all.
  check: 6, eval: 6, server: 6, worker: 6, restate: 6,
  cli: 7,
};
// Level-0 folders stand alone: spec imports nothing, errors and util are domain-free.
const levelZeroAllowed = { spec: [], errors: [], util: [] };

function forbiddenFor(folder) {
  const level = levels[folder];
  const forbidden = Object.keys(levels).filter((other) => {
    if (other === folder) return false;
    if (level === 0) return !levelZeroAllowed[folder].includes(other);
    return levels[other] >= level;
  });
  forbidden.push('testing');
  return forbidden;
}

const layerRules = Object.keys(levels).map((folder) => ({
  files: [`src/${folder}/**/*.ts`],
  ignores: ['src/**/*.test.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbiddenFor(folder).map((other) => ({
        group: [`../${other}`, `../${other}/*`, `../../${other}`, `../../${other}/*`, `../../../${other}/*`],
        message: `Layer rule: src/${folder} (level ${levels[folder]}) may not import src/${other}${other === 'testing' ? ' (the test kit)' : ` (level ${levels[other]})`}.`,
      })),
    }],
  },
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', '.keel/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  ...layerRules,
  // The web console (console/): a browser app with React's rules of hooks and the compiler's checks.
  { files: ['console/**/*.{ts,tsx}'], ...reactHooks.configs.flat['recommended-latest'] },
);
