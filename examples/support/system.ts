import { createSupportDesk } from './agents.ts';
import { createSupportAgent } from './agent.ts';
import { createBackOffice } from './desk-tools.ts';

/**
 * `keel check examples/support`: the front-line support agent of the eval suite, and the routed desk with every agent
 * it hands conversations to, built over empty back offices with the offline model's name. Importing this starts
 * nothing; the checker reads the declarations only.
 */
const { desk } = createSupportDesk(createBackOffice(), 'recorded-desk');

export default [createSupportAgent(createBackOffice()), desk];
