// The bridge between the peer harness (bench/peers/suite) and Keel. The harness loads adapters with plain `node` (no tsx), so
// the small adapters run-peers.ts writes into the scratch folder import this file from the repository; it
// registers tsx the way bin/keel.js does and then loads Keel through bench/adapters/keel-common.ts, which uses
// only the public API (src/index.ts), as a user of Keel would.
import { register } from 'tsx/esm/api';

register();
const { createKeelAdapter } = await import('../adapters/keel-common.ts');

/**
 * Wraps a Keel bench adapter in the harness contract: runSession(baseURL), name, versions(), setup(), teardown().
 * @param {{ name: string, description: string, journal: 'file' | 'memory', streaming: boolean }} options
 */
export function harnessAdapter(options) {
  const adapter = createKeelAdapter(options);
  let ready;
  return {
    name: adapter.name,
    versions: () => adapter.versions(),
    // harness/bench.mjs calls setup() without the mock's URL, so the Keel instance is built by the first session
    // (inside the warm-up), and concurrent first sessions share that one build.
    setup: async () => {},
    runSession: async (baseURL) => {
      ready ??= Promise.resolve().then(() => adapter.setup(baseURL));
      await ready;
      await adapter.runSession(baseURL);
    },
    teardown: async () => {
      if (ready === undefined) return;
      await ready;
      // The journal's size per session goes to stderr, which run-all.mjs keeps as stderrTail in the result line.
      const footprint = await adapter.report?.();
      if (footprint !== undefined && Object.keys(footprint).length > 0) console.error(`keel journal ${JSON.stringify(footprint)}`);
      await adapter.teardown?.();
    },
  };
}
