export { assembleRequest, estimateTokens } from './assemble-request.ts';
export type { AssembledRequest } from './assemble-request.ts';
