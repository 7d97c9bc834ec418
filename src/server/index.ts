export { createKeelServer, createServerLogger } from './create-server.ts';
export type { ConnectionLimits, KeelServer, KeelServerOptions } from './create-server.ts';
export type { ApiKeyStore, ApiPrincipal } from './api-keys.ts';
export type { StreamLimitOptions } from './stream-limits.ts';
export type { QueuedSessionRequest, EnqueueSession, ServerEnv, ServerVariables } from './server-context.ts';
export { keelCodeStatus } from './error-status.ts';
export { apiRoles } from './api-schemas.ts';
export type { ApiRole, ApiError, Me, AgentInfo, SessionView, SessionList, StartSessionBody, ApprovalBody, CancelResult, JournalPage, KeyView, CreatedKey } from './api-schemas.ts';
