// Run by session-lease.test.ts as a separate process: `node --import tsx acquire-lease-from-another-process.ts <request JSON>`.
// It waits until every racer has checked in, tries once to take the lease, and prints one JSON line with the result.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSqliteSessionLeaseStore } from '../../src/store/index.ts';

interface Request {
  readonly path: string;
  readonly sessionId: string;
  readonly owner: string;
  readonly barrier: string;
  readonly racers: number;
}

const request = JSON.parse(process.argv[2] ?? '{}') as Request;
const leases = createSqliteSessionLeaseStore({ path: request.path });
writeFileSync(join(request.barrier, request.owner), '');
while (readdirSync(request.barrier).length < request.racers) await new Promise((resolve) => setTimeout(resolve, 2));
const result = await leases.acquire({ sessionId: request.sessionId, owner: request.owner, ttlMs: 60_000 });
console.log(JSON.stringify(result));
await leases.close();
