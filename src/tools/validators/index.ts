export { fieldPath, withSemanticValidation } from './semantic-validator.ts';
export type { SemanticValidator, SemanticVerdict } from './semantic-validator.ts';
export { createReadOnlySqlChecker, defaultReadOnlyHint, readOnlySqlGuard } from './sql-read-only.ts';
export type { ReadOnlySqlChecker, ReadOnlySqlCheckerStatistics, ReadOnlySqlGuardOptions, ReadOnlySqlOptions, ReadOnlySqlVerdict, SqlDialect } from './sql-read-only.ts';
