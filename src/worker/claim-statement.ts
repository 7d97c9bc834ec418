/**
 * A claim of queue rows as one statement: `picked` selects the rows (locked, SKIP LOCKED) with their previous claim,
 * an expired previous claim is closed in the claim history, a new claim is recorded, and the rows are marked claimed.
 * Claiming for work and claiming a cancelled session to end it differ only in what they pick.
 */
export interface ClaimStatement {
  /** The body of the `picked` query: must select session_id, previous_claim, previous_expiry and previous_state. */
  readonly picked: string;
  /** The parameter holding the worker's name, e.g. `$1`. */
  readonly worker: string;
  /** The parameter holding the claim's time to live in milliseconds. */
  readonly ttlMs: string;
}

export function claimStatement(statement: ClaimStatement): string {
  return `WITH picked AS (${statement.picked}
  ), expired AS (
    UPDATE keel_run_claims c SET ended_at = p.previous_expiry, outcome = 'expired'
    FROM picked p WHERE p.previous_state = 'claimed' AND c.claim_id = p.previous_claim AND c.ended_at IS NULL
  ), history AS (
    INSERT INTO keel_run_claims (session_id, worker, claimed_at, expires_at)
    SELECT session_id, ${statement.worker}, clock_timestamp(), clock_timestamp() + make_interval(secs => ${statement.ttlMs}::double precision / 1000) FROM picked
    RETURNING claim_id, session_id, expires_at
  )
  UPDATE keel_run_queue q SET state = 'claimed', claimed_by = ${statement.worker}, claim_id = h.claim_id, claim_expires_at = h.expires_at,
    attempts = q.attempts + 1, wake_requested = false, updated_at = clock_timestamp()
  FROM history h WHERE q.session_id = h.session_id
  RETURNING q.*`;
}
