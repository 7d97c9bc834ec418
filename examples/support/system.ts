import { createSupportDesk } from './agents.ts';
import { createBackOffice } from './desk-tools.ts';

/**
 * `keel check examples/support`: the desk and every agent it hands conversations to, built over an empty back
 * office with the offline model's name. Importing this starts nothing; the checker reads the declarations only.
 */
const { desk } = createSupportDesk(createBackOffice(), 'recorded-desk');

export default desk;
