export { readUntrusted } from './read-untrusted.ts';
export type { ReadUntrustedOptions, ReaderAttempt, ReaderModel, SessionReadOptions, UntrustedRead, UntrustedReader } from './read-untrusted.ts';
export { fieldKinds } from './field-kinds.ts';
export type { FieldKind } from './field-kinds.ts';
