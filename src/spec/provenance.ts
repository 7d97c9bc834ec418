/**
 * Where a piece of context entered the session. `system` (the agent's instructions) and `user` (the task and what
 * the user wrote) are trusted: they may instruct the model. Every other label is data that arrived from outside and
 * is untrusted by default: output of a local tool (`tool`), of an MCP server's tool (`mcp`), a memory record
 * (`memory`), a retrieved document (`retrieved`), a child session's result (`subagent`), or a web page (`web`).
 */
export type Provenance = 'system' | 'user' | 'tool' | 'mcp' | 'memory' | 'retrieved' | 'subagent' | 'web';

/** The labels a tool may declare for its output (`defineTool({ provenance })`); trusted labels cannot be declared. */
export type UntrustedProvenance = Exclude<Provenance, 'system' | 'user'>;

export const provenances: readonly Provenance[] = ['system', 'user', 'tool', 'mcp', 'memory', 'retrieved', 'subagent', 'web'];
export const untrustedProvenances: readonly UntrustedProvenance[] = ['tool', 'mcp', 'memory', 'retrieved', 'subagent', 'web'];

export function isTrustedProvenance(provenance: Provenance): provenance is 'system' | 'user' {
  return provenance === 'system' || provenance === 'user';
}

export function isUntrustedProvenance(value: unknown): value is UntrustedProvenance {
  return typeof value === 'string' && (untrustedProvenances as readonly string[]).includes(value);
}
