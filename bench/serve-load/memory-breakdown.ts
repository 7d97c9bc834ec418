// Where a process's resident memory is, from its own point of view (V8's statistics) and the kernel's
// (/proc/self/smaps): the JS heap it retains, the heap pages V8 keeps committed, buffers outside the heap, the C
// allocator's arenas (glibc malloc: the main arena grows the brk `[heap]`, every other arena is a 64 MiB-aligned
// mapping), V8's 256 KiB heap pages, other anonymous mappings, and file-backed pages (the node binary, shared libraries, SQLite's
// shared-memory WAL index). Linux only; elsewhere the smaps part is null.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** glibc's HEAP_MAX_SIZE on 64-bit: a thread arena reserves this much, aligned to it. */
const arenaReservation = 64 * 1024 * 1024;
/** V8's regular page size on 64-bit (Node 20 to 24); each page is its own mapping. */
const v8PageSize = 256 * 1024;

export interface SmapsBreakdown {
  /** Resident pages mapped from files (executable, libraries, SQLite's -shm index, ...). */
  readonly fileBacked: number;
  /** Resident anonymous pages of the brk heap: glibc malloc's main arena (the main thread's small allocations). */
  readonly mainArena: number;
  /** Resident pages of glibc malloc's other arenas (threads' allocations: libuv's pool, V8's helper threads). */
  readonly threadArenas: number;
  /** How many such arenas are mapped. */
  readonly threadArenaCount: number;
  /** Resident anonymous 256 KiB mappings: V8's heap pages (its page size), including free pages V8 pools for reuse. */
  readonly v8Pages: number;
  /** Every other resident anonymous page: V8's large-object and code pages, large (mmapped) mallocs, thread stacks. */
  readonly otherAnonymous: number;
}

export interface MemoryBreakdown {
  readonly rss: number;
  /** JS heap in use (after a full GC when the caller ran one first: what is retained). */
  readonly heapUsed: number;
  /** JS heap V8 has committed (used + free pages it keeps). */
  readonly heapTotal: number;
  /** Of it, resident. */
  readonly heapPhysical: number;
  /** Committed size of the young generation (semi-spaces), part of heapTotal. */
  readonly newSpace: number;
  /** Memory V8 itself holds through malloc (its own bookkeeping, not JS objects). */
  readonly v8Malloced: number;
  /** C++ objects and buffers tied to JS objects (Buffers, ArrayBuffers, native addons that report theirs). */
  readonly external: number;
  readonly arrayBuffers: number;
  readonly smaps: SmapsBreakdown | null;
  /** Open file descriptors on SQLite database files (`*.db`): one per connection (null off Linux). */
  readonly databaseHandles: number | null;
}

export function memoryBreakdown(): MemoryBreakdown {
  const usage = process.memoryUsage();
  const heap = getHeapStatistics();
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    heapPhysical: heap.total_physical_size,
    newSpace: newSpace?.space_size ?? 0,
    v8Malloced: heap.malloced_memory,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    smaps: readSmaps(),
    databaseHandles: countDatabaseHandles(),
  };
}

function countDatabaseHandles(): number | null {
  try {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).endsWith('.db');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return null;
  }
}

interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly permissions: string;
  readonly inode: string;
  readonly name: string;
  rss: number;
}

function readSmaps(): SmapsBreakdown | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return null;
  }
  const mappings = parseSmaps(text);
  let fileBacked = 0;
  let mainArena = 0;
  let threadArenas = 0;
  let threadArenaCount = 0;
  let v8Pages = 0;
  let otherAnonymous = 0;
  mappings.forEach((mapping, index) => {
    if (mapping.inode !== '0') fileBacked += mapping.rss;
    else if (mapping.name === '[heap]') mainArena += mapping.rss;
    else if (isThreadArena(mapping, mappings[index + 1])) {
      threadArenas += mapping.rss;
      threadArenaCount += 1;
    } else if (mapping.name === '' && mapping.end - mapping.start === BigInt(v8PageSize)) v8Pages += mapping.rss;
    else otherAnonymous += mapping.rss;
  });
  return { fileBacked, mainArena, threadArenas, threadArenaCount, v8Pages, otherAnonymous };
}

/** A glibc arena: a read-write start aligned to 64 MiB whose reservation (with the inaccessible rest after it) is 64 MiB. */
function isThreadArena(mapping: Mapping, next: Mapping | undefined): boolean {
  const reservation = BigInt(arenaReservation);
  if (mapping.name !== '' || !mapping.permissions.startsWith('rw') || mapping.start % reservation !== 0n) return false;
  const size = mapping.end - mapping.start;
  if (size === reservation) return true;
  return next !== undefined && next.start === mapping.end && next.permissions.startsWith('---') && next.name === '' && next.end - mapping.start === reservation;
}

const headerPattern = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/;
const rssPattern = /^Rss:\s+(\d+) kB$/;

function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const header = headerPattern.exec(line);
    if (header !== null) {
      mappings.push({ start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), permissions: header[3] as string, inode: header[4] as string, name: header[5] as string, rss: 0 });
      continue;
    }
    const rss = rssPattern.exec(line);
    const current = mappings.at(-1);
    if (rss !== null && current !== undefined) current.rss += Number(rss[1]) * 1024;
  }
  return mappings;
}
