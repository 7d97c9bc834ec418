/** Orders of one customer, newest first; `status` narrows them when given. */
export async function findOrders(db, customer, status) {
  const filter = status === undefined ? '' : ` AND status = '${status}'`;
  return db.query(`SELECT id, customer, cents, created_at FROM orders WHERE customer = ?${filter} ORDER BY created_at DESC`, [customer]);
}

/** Total cents per customer, in order of first appearance. */
export function totalsByCustomer(orders) {
  const totals = new Map();
  for (const order of orders) {
    if (totals.has(order.customer)) continue;
    const own = orders.filter((other) => other.customer === order.customer);
    totals.set(order.customer, own.reduce((sum, other) => sum + other.cents, 0));
  }
  return totals;
}
