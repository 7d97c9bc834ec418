// The adapters by name. Each loads lazily, so a measurement process holds only the client it measures.
import type { BenchAdapter } from './types.ts';

export const adapterLoaders = {
  'raw-fetch': async () => (await import('./raw-fetch.ts')).adapter,
  'raw-node-http': async () => (await import('./raw-node-http.ts')).adapter,
  'raw-fetch-stream': async () => (await import('./raw-fetch-stream.ts')).adapter,
  'keel-sqlite': async () => (await import('./keel-sqlite.ts')).adapter,
  'keel-sqlite-stream': async () => (await import('./keel-sqlite-stream.ts')).adapter,
  'keel-memory': async () => (await import('./keel-memory.ts')).adapter,
} satisfies Readonly<Record<string, () => Promise<BenchAdapter>>>;

export type AdapterName = keyof typeof adapterLoaders;

export const adapterNames = Object.keys(adapterLoaders) as AdapterName[];

export function isAdapterName(name: string): name is AdapterName {
  return Object.hasOwn(adapterLoaders, name);
}

export const baselineAdapter: AdapterName = 'raw-fetch';
