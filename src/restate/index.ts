export { createRestateEndpoint, serveRestate } from './restate-endpoint.ts';
export type { RestateEndpoint, RestateEndpointOptions, RestateServer, ServeRestateOptions } from './restate-endpoint.ts';
export { approveOnRestate, attachInvocation, defaultServiceName, registerDeployment, runSessionOnRestate, sendSession } from './restate-client.ts';
export type { RestateCall, Registration } from './restate-client.ts';
export { resolveRestateConfig, restateIngressConfigured, defaultRestateConfig } from './restate-config.ts';
export type { RestateConfig } from './restate-config.ts';
export type { RestateApproval, RestateApprovalReply, RestateSessionRequest } from './session-object.ts';
