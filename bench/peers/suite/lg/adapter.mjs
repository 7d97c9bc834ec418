// LangGraph's ReAct agent without a checkpointer (no durability).
import { makeRunSession } from './common.mjs';
export { versions } from './common.mjs';

export const name = 'langgraph';
export const runSession = makeRunSession();
