import { createResearchAgents } from './agents.ts';

/**
 * `keel check examples/research`: the lead and the researcher it delegates to, with the offline models'
 * names. Importing this starts nothing; the checker reads the declarations only.
 */
const { lead } = createResearchAgents({ lead: 'recorded-lead', researcher: 'recorded-researcher' });

export default lead;
