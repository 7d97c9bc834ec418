export { verifierRequest, verifierSystemPrompt } from './verifier-request.ts';
export type { VerifierProposal, VerifierSubject } from './verifier-request.ts';
export { readVerifierAnswer, verifierUnavailable } from './verifier-answer.ts';
export type { VerifierFailure, VerifierVerdict } from './verifier-answer.ts';
