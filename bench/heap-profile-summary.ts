// Summarises a sampling heap profile (.heapprofile, as bench/measure.ts writes with BENCH_HEAP_PROFILE): bytes by the
// function that allocated them, and by the first frame in Keel's own code (src/) or, failing that, the package.
//
//   node --import tsx bench/heap-profile-summary.ts <file.heapprofile> [--top 30]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

const place = (url: string): string => {
  const source = /\/(src\/.*)$/.exec(url);
  if (source?.[1] !== undefined) return source[1];
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module?.[1] !== undefined) return module[1];
  return url === '' ? '(native)' : url.replace(/^node:/, 'node:');
};

function add(table: Map<string, number>, key: string, bytes: number): void {
  table.set(key, (table.get(key) ?? 0) + bytes);
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node --import tsx bench/heap-profile-summary.ts <file.heapprofile> [--top 30]');
    process.exit(2);
  }
  const topIndex = process.argv.indexOf('--top');
  const top = topIndex === -1 ? 30 : Number(process.argv[topIndex + 1]);
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
  const byFunction = new Map<string, number>();
  const byKeelFrame = new Map<string, number>();
  let total = 0;
  // Iterative walk: a deep allocation stack must not overflow this process's stack.
  const stack: { node: ProfileNode; path: readonly ProfileNode['callFrame'][] }[] = [{ node: head, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    const frames = [...path, node.callFrame];
    if (node.selfSize > 0) {
      total += node.selfSize;
      const frame = node.callFrame;
      add(byFunction, `${frame.functionName || '(anonymous)'} ${place(frame.url)}:${frame.lineNumber + 1}`, node.selfSize);
      const keel = [...frames].reverse().find((candidate) => candidate.url.includes('/src/'));
      add(byKeelFrame, keel === undefined ? place(frame.url) : `${keel.functionName || '(anonymous)'} ${place(keel.url)}:${keel.lineNumber + 1}`, node.selfSize);
    }
    for (const child of node.children) stack.push({ node: child, path: frames });
  }
  const print = (title: string, table: Map<string, number>): void => {
    console.log(`\n${title}\n| where | MB | share |\n|---|---:|---:|`);
    for (const [key, bytes] of [...table.entries()].sort((left, right) => right[1] - left[1]).slice(0, top)) {
      console.log(`| ${key.replaceAll('|', '\\|')} | ${(bytes / 2 ** 20).toFixed(2)} | ${((100 * bytes) / total).toFixed(1)} % |`);
    }
  };
  console.log(`${file}: ${(total / 2 ** 20).toFixed(1)} MB sampled`);
  print('By allocating function', byFunction);
  print("By the innermost frame in Keel's code (src/), else the package", byKeelFrame);
}

main();
