// Summarizes a V8 sampling heap profile (HeapProfiler.stopSampling's `profile`, a .heapprofile file): bytes
// allocated per site, by the frame that allocated and by the nearest Keel frame (src/) on its stack.
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

export interface AllocationSite {
  readonly site: string;
  readonly bytes: number;
}

export interface AllocationSummary {
  readonly totalBytes: number;
  /** By the frame that allocated (often a builtin such as JSON.parse). */
  readonly byFrame: readonly AllocationSite[];
  /** By the nearest frame in Keel's own src/ folder on the allocating stack. */
  readonly byKeelFrame: readonly AllocationSite[];
}

export function summarizeAllocationProfile(path: string, top = 15): AllocationSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as { head: ProfileNode };
  const byFrame = new Map<string, number>();
  const byKeelFrame = new Map<string, number>();
  let totalBytes = 0;
  // Iterative walk: deep async stacks must not overflow this process's stack.
  const pending: { node: ProfileNode; keelFrame: string }[] = [{ node: profile.head, keelFrame: '(no Keel frame)' }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { node } = item;
    const site = describe(node.callFrame);
    const keelFrame = /\/src\//.test(node.callFrame.url) ? site : item.keelFrame;
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      byFrame.set(site, (byFrame.get(site) ?? 0) + node.selfSize);
      byKeelFrame.set(keelFrame, (byKeelFrame.get(keelFrame) ?? 0) + node.selfSize);
    }
    for (const child of node.children) pending.push({ node: child, keelFrame });
  }
  const ranked = (sites: Map<string, number>): AllocationSite[] => [...sites].map(([site, bytes]) => ({ site, bytes })).sort((left, right) => right.bytes - left.bytes).slice(0, top);
  return { totalBytes, byFrame: ranked(byFrame), byKeelFrame: ranked(byKeelFrame) };
}

function describe(frame: CallFrame): string {
  const file = frame.url === '' ? '' : ` ${frame.url.replace(/^.*?\/(src|node_modules|bench)\//, '$1/')}:${frame.lineNumber + 1}`;
  return `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${file}`;
}
