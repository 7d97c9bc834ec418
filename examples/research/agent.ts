import { createResearchAgents } from './agents.ts';

/**
 * The research lead, with the researcher subagent it delegates to. It names no model: the run gives one (the eval
 * suite's recorded replies offline, KEEL_MODEL or --model live). Importing this starts nothing.
 */
const { lead } = createResearchAgents();

export default lead;
