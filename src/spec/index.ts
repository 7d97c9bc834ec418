export type * from './message.ts';
export type * from './usage.ts';
export type * from './model.ts';
export type * from './events.ts';
export type * from './journal.ts';
export type * from './clock.ts';
export { stopReasons } from './stop-reason.ts';
export type { StopReason } from './stop-reason.ts';
export { currentEventVersion, supportedEventVersions } from './events.ts';
