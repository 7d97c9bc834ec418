import { describeVectorIndexContract } from '../../src/testing/contracts/vector-index.contract.ts';
import { createExactScanIndex } from '../../src/memory/exact-scan-index.ts';
import { createSqliteVecIndex } from '../../src/memory/sqlite-vec-index.ts';

describeVectorIndexContract('exact scan', (dimensions) => createExactScanIndex({ dimensions }));
describeVectorIndexContract('sqlite-vec (own :memory: database)', (dimensions) => createSqliteVecIndex({ path: ':memory:', dimensions, name: 'memories' }));
