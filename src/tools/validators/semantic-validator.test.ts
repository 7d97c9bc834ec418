import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../define-tool.ts';
import { validateInput } from '../index.ts';
import { fieldPath, withSemanticValidation } from './semantic-validator.ts';
import type { SemanticValidator } from './semantic-validator.ts';

const transferInput = z.object({
  from: z.string(),
  to: z.string(),
  amount: z.number().positive(),
  currency: z.string().default('EUR').transform((value) => value.toUpperCase()),
});
type Transfer = z.output<typeof transferInput>;

const distinctAccounts: SemanticValidator<Transfer> = (input) =>
  input.from === input.to ? { ok: false, field: 'to', message: 'must differ from `from`: a transfer to the same account does nothing.' } : { ok: true };
const capped: SemanticValidator<Transfer> = (input) =>
  input.amount > 1_000 ? { ok: false, field: 'amount', message: 'is above the 1,000 limit for this tool; split it or ask a human.' } : { ok: true };

describe('fieldPath', () => {
  it('splits a dotted field into a zod path, numeric segments as indices', () => {
    expect(fieldPath('')).toEqual([]);
    expect(fieldPath('query')).toEqual(['query']);
    expect(fieldPath('filters.0.value')).toEqual(['filters', 0, 'value']);
    expect(fieldPath('a.01')).toEqual(['a', '01']);
  });
});

describe('withSemanticValidation', () => {
  const schema = withSemanticValidation(transferInput, [distinctAccounts, capped]);

  it('passes valid input through, with defaults and transforms applied', () => {
    expect(schema.parse({ from: 'a', to: 'b', amount: 5, currency: 'usd' })).toEqual({ from: 'a', to: 'b', amount: 5, currency: 'USD' });
    expect(schema.parse({ from: 'a', to: 'b', amount: 5 })).toEqual({ from: 'a', to: 'b', amount: 5, currency: 'EUR' });
  });

  it('reports every failing validator as a custom issue at its field', () => {
    const result = schema.safeParse({ from: 'a', to: 'a', amount: 5_000 });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => ({ code: issue.code, path: issue.path, message: issue.message }))).toEqual([
      { code: 'custom', path: ['to'], message: 'must differ from `from`: a transfer to the same account does nothing' },
      { code: 'custom', path: ['amount'], message: 'is above the 1,000 limit for this tool; split it or ask a human' },
    ]);
  });

  it('runs validators only on input that passed the schema, and gives them its output', () => {
    const validator = vi.fn<SemanticValidator<Transfer>>(() => ({ ok: true }));
    const checked = withSemanticValidation(transferInput, [validator]);
    expect(checked.safeParse({ from: 'a', to: 'b', amount: -1 }).success).toBe(false);
    expect(validator).not.toHaveBeenCalled();
    checked.parse({ from: 'a', to: 'b', amount: 1, currency: 'chf' });
    expect(validator).toHaveBeenCalledWith({ from: 'a', to: 'b', amount: 1, currency: 'CHF' });
  });

  it('fails closed when a validator throws', () => {
    const broken = withSemanticValidation(transferInput, [
      () => {
        throw new Error('lookup service down');
      },
    ]);
    const result = broken.safeParse({ from: 'a', to: 'b', amount: 1 });
    expect(result.error?.issues).toEqual([expect.objectContaining({ path: [], message: 'the input could not be validated (lookup service down), so it is rejected' })]);
  });

  it('leaves the JSON schema the provider sees unchanged', () => {
    const plain = defineTool({ name: 'transfer', description: 'Moves money.', input: transferInput, execute: () => 'done' });
    const checked = defineTool({ name: 'transfer', description: 'Moves money.', input: schema, execute: () => 'done' });
    expect(checked.inputSchema).toEqual(plain.inputSchema);
  });

  it('surfaces as tool-invalid-input with the field, before the tool runs', () => {
    const execute = vi.fn(() => 'done');
    const tool = defineTool({ name: 'transfer', description: 'Moves money.', input: schema, execute });
    const result = validateInput(tool, { from: 'a', to: 'a', amount: 5 });
    expect('error' in result && result.error.code).toBe('tool-invalid-input');
    expect('error' in result && result.error.message).toBe('Invalid input for "transfer": to: must differ from `from`: a transfer to the same account does nothing.');
    expect(execute).not.toHaveBeenCalled();
    expect(validateInput(tool, { from: 'a', to: 'b', amount: 5 })).toEqual({ tool, input: { from: 'a', to: 'b', amount: 5, currency: 'EUR' } });
  });
});
