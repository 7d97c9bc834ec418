export { createKeel } from './create-keel.ts';
export type { Keel, KeelOptions, KeelResumeOptions, KeelRunOptions, SessionDependencies } from './create-keel.ts';
export { replayRequest, replayAllTurns, isPurgedRequestError } from './replay.ts';
export { runCounterfactual, applyStrategy } from './counterfactual.ts';
export { diffContexts, renderContextDiff, contextDiffToJson } from './context-diff.ts';
export { createCallLogPolicy, purgeRequestBlobs } from './call-log.ts';
