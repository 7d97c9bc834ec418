#!/usr/bin/env node
// The CLI from the TypeScript sources of a checkout (the repository's tests and `npm run keel` use it), through
// tsx. The installed package's `keel` command is the compiled dist/cli/bin.js, which needs no tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/bin.ts');
