#!/usr/bin/env node
// Keel ships TypeScript sources; tsx loads them (and the agent modules users write) without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/bin.ts');
