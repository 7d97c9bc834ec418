/** How much a tool can change: `read` nothing, `write` something that can be undone, `irreversible` what cannot. */
export type ToolRisk = 'read' | 'write' | 'irreversible';
