import assert from 'node:assert/strict';
import test from 'node:test';
import { findOrders, totalsByCustomer } from '../src/orders.mjs';
import { page, pageCount } from '../src/pagination.mjs';

test('findOrders passes the customer as a parameter', async () => {
  const calls = [];
  const db = { query: async (sql, params) => (calls.push({ sql, params }), []) };
  await findOrders(db, 'ada@example.com');
  assert.deepEqual(calls[0].params, ['ada@example.com']);
});

test('totalsByCustomer sums the cents of each customer', () => {
  const orders = [{ customer: 'ada', cents: 100 }, { customer: 'bob', cents: 50 }, { customer: 'ada', cents: 25 }];
  assert.deepEqual([...totalsByCustomer(orders)], [['ada', 125], ['bob', 50]]);
});

test('page returns whole pages and a partial last page', () => {
  assert.deepEqual(page([1, 2, 3, 4, 5], 1, 2), [1, 2]);
  assert.deepEqual(page([1, 2, 3, 4, 5], 3, 2), [5]);
});

test('pageCount counts a partial last page', () => {
  assert.equal(pageCount(5, 2), 3);
  assert.equal(pageCount(4, 2), 2);
});
