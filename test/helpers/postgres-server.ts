// One throwaway PostgreSQL cluster per test file: start it in beforeAll, stop it in afterAll.
export { startPostgresServer } from '../../src/testing/postgres-server.ts';
export type { PostgresServerOptions, PostgresServerProcess } from '../../src/testing/postgres-server.ts';
