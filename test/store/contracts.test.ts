import { afterAll } from 'vitest';
import { createMemoryBlobStore, createMemoryJournal, createSqliteBlobStore, createSqliteJournal, createSqliteStore } from '../../src/store/index.ts';
import { describeBlobStoreContract } from '../../src/testing/contracts/blob-store.contract.ts';
import { describeJournalContract } from '../../src/testing/contracts/journal.contract.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

describeJournalContract('memory', () => createMemoryJournal());
describeJournalContract('sqlite file', () => createSqliteJournal({ path: folders.databasePath() }));
describeJournalContract('sqlite store sharing its database with blobs', () => createSqliteStore({ path: folders.databasePath() }).journal);

describeBlobStoreContract('memory', () => createMemoryBlobStore());
describeBlobStoreContract('sqlite file', () => createSqliteBlobStore({ path: folders.databasePath() }));
describeBlobStoreContract('sqlite store sharing its database with the journal', () => createSqliteStore({ path: folders.databasePath() }).blobs);
