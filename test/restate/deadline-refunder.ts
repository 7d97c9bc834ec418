import { fileURLToPath } from 'node:url';
import { createRefunder } from './restate-agents.ts';

/** A refunder with a 2.5 s deadline: nobody approves, and the deadline's durable timer ends the session. */
export default createRefunder(process.env.KEEL_TEST_EFFECTS_DIR ?? '', { name: 'deadline-refunder', model: `scripted:${fileURLToPath(new URL('./refund-script.json', import.meta.url))}`, deadlineMs: 2_500 });
