import { fileURLToPath } from 'node:url';
import { createRefunder } from './restate-agents.ts';

/** The refunder as `keel restate serve --agents` loads it: effects in KEEL_TEST_EFFECTS_DIR, a scripted model. */
export default createRefunder(process.env.KEEL_TEST_EFFECTS_DIR ?? '', { name: 'refunder', model: `scripted:${fileURLToPath(new URL('./refund-script.json', import.meta.url))}` });
