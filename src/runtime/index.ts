export { createKeel } from './create-keel.ts';
export type { Keel, KeelOptions, KeelRunOptions } from './create-keel.ts';
