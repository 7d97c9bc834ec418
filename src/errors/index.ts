export { KeelError, isKeelError, toKeelError, keelCodes } from './keel-error.ts';
export type { KeelCode, Fault, KeelErrorOptions } from './keel-error.ts';
