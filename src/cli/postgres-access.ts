import { KeelError } from '../errors/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import { createPostgresStore, describeDatabaseUrl, checkSchemaName } from '../store/index.ts';
import type { CliContext, SessionAccess } from './cli-context.ts';

/**
 * Runs `work` against the sessions in the PostgreSQL database of KEEL_DATABASE_URL (schema KEEL_DATABASE_SCHEMA),
 * and closes the pool after. Nothing is written; the tables are created if missing, so an empty database simply
 * has no sessions.
 */
export async function withPostgresAccess<T>(context: CliContext, url: string, work: (access: SessionAccess) => Promise<T>): Promise<T> {
  const schema = checkSchemaName(nonEmpty(context.env.KEEL_DATABASE_SCHEMA) ?? 'public');
  const description = describeDatabaseUrl(url, schema);
  const store = createPostgresStore({ url, schema, maxConnections: 2 });
  try {
    const access: SessionAccess = {
      databasePath: description,
      journal: store.journal,
      blobs: store.blobs,
      statusSources: { journal: store.journal, leases: store.leases, now: Date.now },
      async events(sessionId: string): Promise<readonly SessionEvent[]> {
        const events: SessionEvent[] = [];
        for await (const event of store.journal.read(sessionId)) events.push(event);
        if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in the ${description}; list them with \`${context.prefix} sessions\`.`);
        return events;
      },
    };
    return await work(access);
  } finally {
    await store.close();
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
