export { connectMcpServer } from './mcp-tool-source.ts';
export type { McpToolSource, McpSourceStatus } from './mcp-tool-source.ts';
export type { McpServerConfig, McpServerTrust, McpTransportConfig, McpStdioTransportConfig, McpHttpTransportConfig } from './mcp-server-config.ts';
export type { SkippedMcpTool } from './mcp-tool-definition.ts';
export { prefixedToolName } from './mcp-tool-name.ts';
export { mcpToolRisk, mcpToolTrust } from './mcp-tool-risk.ts';
export { compileInputSchema } from './json-schema-input.ts';
export { contentToText } from './mcp-call-result.ts';
