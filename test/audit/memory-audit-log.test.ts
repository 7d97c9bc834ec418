import { describe, expect, it } from 'vitest';
import { createMemoryAuditLog } from '../../src/store/index.ts';
import { auditLogContract } from './audit-log-contract.ts';
import { sampleEntry } from './audit-samples.ts';

auditLogContract('memory', (clock) => createMemoryAuditLog({ clock }));

describe('memory audit log', () => {
  it('hands out frozen records, so a caller cannot edit the log through one', async () => {
    const log = createMemoryAuditLog();
    const record = await log.append(sampleEntry(0));
    expect(() => {
      (record as { rule: string }).rule = 'edited';
    }).toThrow(TypeError);
    expect(() => {
      (record.input as { orderId: string }).orderId = 'edited';
    }).toThrow(TypeError);
    expect((await log.verify()).ok).toBe(true);
  });
});
