import { sha256 } from '../../util/index.ts';

/** What both providers accept as a tool name. */
const providerToolNamePattern = /^[a-zA-Z0-9_-]{1,64}$/;
const maxLength = 64;
const separator = '__';

/**
 * The name the model sees for a server's tool: `<server>__<tool>`. The prefix means no server can pick a name that
 * shadows a local tool or another server's tool. MCP allows names providers reject (dots, up to 128 characters), so
 * such a name is rewritten and given a short hash of the original: the result stays the same whatever other tools the
 * server lists, and two originals that rewrite alike (`a.b` and `a_b`) still come out different.
 */
export function prefixedToolName(serverName: string, toolName: string): string {
  const plain = `${serverName}${separator}${toolName}`;
  if (providerToolNamePattern.test(plain)) return plain;
  const suffix = `_${sha256(toolName).slice(0, 8)}`;
  const room = maxLength - serverName.length - separator.length - suffix.length;
  const sanitized = toolName.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, Math.max(room, 0));
  return `${serverName}${separator}${sanitized}${suffix}`;
}
