// LangGraph's ReAct agent with MemorySaver: checkpoints kept in the process (lost with it).
import { MemorySaver } from '@langchain/langgraph';
import { makeRunSession } from './common.mjs';
export { versions } from './common.mjs';

export const name = 'langgraph+MemorySaver';
export const runSession = makeRunSession(() => new MemorySaver());
