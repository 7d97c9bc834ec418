import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresServer, type PostgresServerProcess } from '../../helpers/postgres-server.ts';

describe('startPostgresServer', () => {
  let server: PostgresServerProcess;
  beforeAll(async () => {
    server = await startPostgresServer();
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  it('serves queries on 127.0.0.1 and creates separate databases', async () => {
    expect(server.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const first = await server.createDatabase();
    const second = await server.createDatabase();
    expect(first).not.toBe(second);
    const client = new pg.Client({ connectionString: first });
    await client.connect();
    try {
      await client.query('CREATE TABLE marker (id int)');
      const version = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      expect(Number(version.rows[0]?.server_version_num)).toBeGreaterThanOrEqual(120_000);
    } finally {
      await client.end();
    }
    const other = new pg.Client({ connectionString: second });
    await other.connect();
    try {
      const tables = await other.query("SELECT 1 FROM pg_tables WHERE tablename = 'marker'");
      expect(tables.rowCount).toBe(0);
    } finally {
      await other.end();
    }
  });

  it('stops the server by its process id and removes its folder', async () => {
    const extra = await startPostgresServer();
    expect(existsSync(extra.directory)).toBe(true);
    await extra.stop();
    expect(existsSync(extra.directory)).toBe(false);
    expect(() => process.kill(extra.pid, 0)).toThrow();
    await extra.stop();
  }, 60_000);
});
