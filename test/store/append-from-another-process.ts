// Run by sqlite-journal.test.ts as a separate process: `node --import tsx append-from-another-process.ts <request JSON>`.
// It prints one JSON line describing what happened, so the test can assert on it.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKeelError } from '../../src/errors/index.ts';
import { createSqliteJournal } from '../../src/store/index.ts';
import { stampEvents, toolResultBody } from '../../src/testing/contracts/journal-samples.ts';

interface Request {
  readonly path: string;
  readonly sessionId: string;
  /** `once`: one append at `expectedSeq`. `race`: `count` appends, each re-reading the last seq after a conflict. */
  readonly mode: 'once' | 'race';
  readonly expectedSeq?: number;
  readonly count?: number;
  readonly writer?: string;
  /** A folder where racing processes check in; each waits until `writers` have, so that they start together. */
  readonly barrier?: string;
  readonly writers?: number;
}

const request = JSON.parse(process.argv[2] ?? '{}') as Request;
const journal = createSqliteJournal({ path: request.path });
const writer = request.writer ?? String(process.pid);

async function allCheckedIn(folder: string, writers: number): Promise<void> {
  writeFileSync(join(folder, writer), '');
  while (readdirSync(folder).length < writers) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A writer does some work between reading the journal and appending; this widens the window for a race. */
function pretendToWork(microseconds: number): void {
  const until = performance.now() + microseconds / 1000;
  while (performance.now() < until);
}

function eventAt(seq: number, index: number) {
  return stampEvents(request.sessionId, [toolResultBody(1, `${writer}_${index}`, `written by ${writer}`)], seq);
}

if (request.mode === 'once') {
  const expectedSeq = request.expectedSeq ?? 0;
  try {
    const lastSeq = journal.appendSync(request.sessionId, eventAt(expectedSeq + 1, 0), expectedSeq);
    console.log(JSON.stringify({ appended: true, lastSeq }));
  } catch (error) {
    if (!isKeelError(error)) throw error;
    console.log(JSON.stringify({ appended: false, code: error.code, details: error.details }));
  }
} else {
  await allCheckedIn(request.barrier ?? '.', request.writers ?? 1);
  let conflicts = 0;
  for (let index = 0; index < (request.count ?? 0); ) {
    const seq = journal.lastSeqSync(request.sessionId);
    pretendToWork(100);
    try {
      journal.appendSync(request.sessionId, eventAt(seq + 1, index), seq);
      index += 1;
    } catch (error) {
      if (!isKeelError(error, 'journal-conflict')) throw error;
      conflicts += 1;
    }
  }
  console.log(JSON.stringify({ appended: true, conflicts }));
}
await journal.close();
