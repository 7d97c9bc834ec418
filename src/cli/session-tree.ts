import { statusFromEvents } from '../runtime/session-status.ts';
import type { SessionStatusSources } from '../runtime/session-status.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { SessionSummary } from '../spec/journal.ts';

/** How deep `keel sessions --tree` follows children: deeper trees are cut with a note. */
const maxDepth = 16;

export interface SessionTreeNode {
  readonly sessionId: string;
  readonly agent: string;
  readonly startedAt: number;
  readonly status: string;
  /** How the parent started it (`tool`, `handoff`, `step`); absent for a root. */
  readonly mode?: string;
  readonly children: readonly SessionTreeNode[];
}

interface TreeSources {
  readonly statusSources: SessionStatusSources;
  events(sessionId: string): Promise<readonly SessionEvent[]>;
}

/**
 * Listed sessions as trees: each root (a session that names no parent) with its child sessions under it, found
 * through the `child-start` events of its journal. A listed child appears under its root, not on its own.
 */
export async function sessionTrees(sources: TreeSources, listed: readonly SessionSummary[]): Promise<SessionTreeNode[]> {
  const roots: SessionTreeNode[] = [];
  for (const summary of listed) {
    const events = await sources.events(summary.sessionId);
    const start = events[0];
    if (start?.type === 'session-start' && start.parentSessionId !== undefined) continue;
    roots.push(await nodeOf(sources, events, undefined, 0));
  }
  return roots;
}

async function nodeOf(sources: TreeSources, events: readonly SessionEvent[], mode: string | undefined, depth: number): Promise<SessionTreeNode> {
  const start = events[0];
  const view = await statusFromEvents(sources.statusSources, events);
  const children: SessionTreeNode[] = [];
  if (depth < maxDepth) {
    for (const event of events) {
      if (event.type !== 'child-start') continue;
      const childEvents = await sources.events(event.childSessionId).catch(() => [] as readonly SessionEvent[]);
      children.push(
        childEvents.length === 0
          ? { sessionId: event.childSessionId, agent: event.agent, startedAt: event.at, status: 'not started', mode: event.mode, children: [] }
          : await nodeOf(sources, childEvents, event.mode, depth + 1),
      );
    }
  }
  return {
    sessionId: start?.sessionId ?? '?',
    agent: start?.type === 'session-start' ? start.agent.name : '?',
    startedAt: start?.at ?? 0,
    status: view.status,
    ...(mode === undefined ? {} : { mode }),
    children,
  };
}

/** The trees as indented lines, children under their parent. */
export function renderSessionTrees(roots: readonly SessionTreeNode[]): string[] {
  const lines: string[] = [];
  const walk = (node: SessionTreeNode, prefix: string, childPrefix: string): void => {
    const via = node.mode === undefined ? '' : ` (${node.mode})`;
    lines.push(`${prefix}${node.sessionId}  ${new Date(node.startedAt).toISOString()}  ${node.status.padEnd(16)}  ${node.agent}${via}`);
    node.children.forEach((child, index) => {
      const last = index === node.children.length - 1;
      walk(child, `${childPrefix}${last ? '└─ ' : '├─ '}`, `${childPrefix}${last ? '   ' : '│  '}`);
    });
  };
  for (const root of roots) walk(root, '', '');
  return lines;
}
