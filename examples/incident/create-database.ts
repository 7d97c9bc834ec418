/**
 * Builds the SQLite database of the incident-investigation demo: six hours of services,
 * deploys, logs and per-minute metrics for an eight-service shop, with one planted root cause and a
 * red herring. Everything comes from a seeded PRNG, so two builds with the same options are identical.
 *
 * The story, relative to the alert at `spikeAt` (default 2025-03-14T13:40:00Z):
 * - T-12 min: inventory-service v2.14.0 starts a rolling deploy that moves its DB pool config into helm
 *   values with `db.pool.max=5` (it was 50). Normal demand is ~20-30 connections in use.
 * - T-8 min: slow connection acquires appear; T-4 min: rollout done, db_connections pinned at 5.
 * - T-3 min: "connection pool exhausted" errors in inventory-service; checkout-service times out on
 *   reservations; payments-api fails hold verification and its error rate crosses 5 % at T.
 * - T-5 min: frontend-web v5.8.0 (checkout page redesign) ships: the red herring, its metrics stay flat.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CreateIncidentDatabaseOptions {
  /** End of the six-hour window, in epoch milliseconds. Defaults to 2025-03-14T14:15:00Z; the scripted model's queries assume the default. */
  readonly now?: number;
  /** PRNG seed. Defaults to a fixed value. */
  readonly seed?: number;
}

export const defaultIncidentNow = Date.parse('2025-03-14T14:15:00Z');
export const defaultIncidentSeed = 3;

export const incidentMetricNames = ['p99_latency_ms', 'error_rate', 'cpu_pct', 'db_connections'] as const;
export type IncidentMetricName = (typeof incidentMetricNames)[number];

interface ServiceProfile {
  readonly name: string;
  readonly team: string;
  readonly tier: number;
  readonly dependsOn: readonly string[];
  /** Baselines: p99 in ms, error rate in percent of requests, CPU in percent, DB connections in use (absent: no database). */
  readonly p99: number;
  readonly errorRate: number;
  readonly cpu: number;
  readonly dbConnections?: number;
  /** Background log lines per minute. */
  readonly logsPerMinute: number;
}

const services = [
  { name: 'frontend-web', team: 'web', tier: 2, dependsOn: ['api-gateway'], p99: 850, errorRate: 0.4, cpu: 38, logsPerMinute: 1.4 },
  { name: 'api-gateway', team: 'platform', tier: 1, dependsOn: ['user-service', 'search-service', 'checkout-service'], p99: 180, errorRate: 0.3, cpu: 42, logsPerMinute: 1.6 },
  { name: 'checkout-service', team: 'commerce', tier: 1, dependsOn: ['inventory-service', 'payments-api', 'user-service'], p99: 240, errorRate: 0.25, cpu: 35, dbConnections: 12, logsPerMinute: 1.0 },
  { name: 'payments-api', team: 'payments', tier: 1, dependsOn: ['inventory-service', 'user-service'], p99: 320, errorRate: 0.2, cpu: 30, dbConnections: 9, logsPerMinute: 0.9 },
  { name: 'inventory-service', team: 'fulfilment', tier: 1, dependsOn: [], p99: 85, errorRate: 0.1, cpu: 33, dbConnections: 24, logsPerMinute: 0.9 },
  { name: 'user-service', team: 'identity', tier: 1, dependsOn: [], p99: 60, errorRate: 0.05, cpu: 28, dbConnections: 15, logsPerMinute: 1.0 },
  { name: 'search-service', team: 'discovery', tier: 2, dependsOn: [], p99: 410, errorRate: 0.6, cpu: 55, logsPerMinute: 1.3 },
  { name: 'notification-service', team: 'messaging', tier: 3, dependsOn: ['user-service'], p99: 150, errorRate: 0.8, cpu: 18, dbConnections: 4, logsPerMinute: 0.7 },
] as const satisfies readonly ServiceProfile[];

export const incidentServiceNames = services.map((service) => service.name) as unknown as readonly [IncidentServiceName, ...IncidentServiceName[]];
export type IncidentServiceName = (typeof services)[number]['name'];

const minute = 60_000;
const windowMinutes = 360;
/** The alert fires this long before `now`. */
const spikeBeforeNowMinutes = 35;

/** Key moments of the scenario as ISO timestamps (UTC, second precision, like every timestamp in the database). */
export interface IncidentTimeline {
  readonly windowStart: string;
  readonly now: string;
  readonly spikeAt: string;
  readonly rootCauseDeployAt: string;
  readonly rolloutCompleteAt: string;
  readonly saturationAt: string;
  readonly redHerringDeployAt: string;
}

export function incidentTimeline(now: number = defaultIncidentNow): IncidentTimeline {
  const spike = now - spikeBeforeNowMinutes * minute;
  return {
    windowStart: iso(now - windowMinutes * minute),
    now: iso(now),
    spikeAt: iso(spike),
    rootCauseDeployAt: iso(spike - 12 * minute),
    rolloutCompleteAt: iso(spike - 4 * minute),
    saturationAt: iso(spike - 3 * minute),
    redHerringDeployAt: iso(spike - 5 * minute),
  };
}

/** The task to give the agent: what the on-call engineer knows when the page arrives. */
export function incidentTask(now: number = defaultIncidentNow): string {
  const timeline = incidentTimeline(now);
  return [
    `PAGE (SEV-2) at ${timeline.spikeAt}: payments-api error rate above 5 % (threshold 5 % over 1 minute). Support reports customers failing at checkout.`,
    `It is now ${timeline.now}. The incident database covers ${timeline.windowStart} to ${timeline.now}.`,
    'Investigate this production incident, form hypotheses, run diagnostic queries, revise your hypotheses, and produce a root-cause report.',
  ].join('\n');
}

/** ISO 8601 in UTC with second precision (`2025-03-14T13:40:00Z`), so timestamps compare correctly as strings. */
export function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** mulberry32: small, fast, and the same on every platform. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Random {
  (): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** Roughly normal with mean 0 and standard deviation 1 (Irwin-Hall, so only exact arithmetic). */
  noise(): number;
  poisson(mean: number): number;
  hex(length: number): string;
}

function random(seed: number): Random {
  const next = createRandom(seed);
  const rng = (() => next()) as Random;
  rng.int = (min, max) => min + Math.floor(next() * (max - min + 1));
  rng.pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  rng.noise = () => {
    let sum = 0;
    for (let index = 0; index < 12; index++) sum += next();
    return sum - 6;
  };
  rng.poisson = (mean) => {
    const limit = Math.exp(-mean);
    let count = 0;
    let product = next();
    while (product > limit) {
      count++;
      product *= next();
    }
    return count;
  };
  rng.hex = (length) => {
    let text = '';
    for (let index = 0; index < length; index++) text += Math.floor(next() * 16).toString(16);
    return text;
  };
  return rng;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
interface LogRow {
  readonly ms: number;
  readonly service: string;
  readonly level: Level;
  readonly message: string;
  readonly traceId: string | null;
}

type Templates = Readonly<Record<Level, readonly ((rng: Random) => string)[]>>;

const pages = ['/', '/search', '/product/:sku', '/cart', '/checkout', '/account'];
const sku = (rng: Random) => `SKU-${rng.int(10_000, 99_999)}`;

const backgroundTemplates: Record<IncidentServiceName, Templates> = {
  'frontend-web': {
    debug: [(r) => `feature flag checkout_v2 evaluated: ${r() < 0.5} (user u_${r.hex(6)})`, (r) => `prefetch /api/v1/recommendations ${r.int(40, 180)}ms`],
    info: [(r) => `SSR GET ${r.pick(pages)} 200 in ${r.int(120, 700)}ms`],
    warn: [(r) => `slow SSR render: ${r.pick(pages)} took ${r.int(1200, 2400)}ms`, (r) => `CSP report: blocked inline script on ${r.pick(pages)}`],
    error: [(r) => `client error reported: TypeError: Cannot read properties of undefined (reading 'price') on /product/${sku(r)}`, () => 'hydration mismatch: server/client markup differ on /account'],
  },
  'api-gateway': {
    debug: [(r) => `route match: ${r.pick(['/api/v1/search', '/api/v1/cart', '/api/v1/me'])} -> ${r.pick(['search-service', 'checkout-service', 'user-service'])}`],
    info: [(r) => `${r.pick(['GET /api/v1/search', 'GET /api/v1/me', 'POST /api/v1/cart/items', 'GET /api/v1/cart'])} 200 ${r.int(20, 160)}ms`],
    warn: [(r) => `rate limit: api key pk_${r.hex(4)} at 80 % of quota`, (r) => `upstream slow: search-service ${r.int(900, 1800)}ms`],
    error: [() => 'upstream search-service 502 Bad Gateway on GET /api/v1/search', (r) => `TLS handshake failed: client hello from 203.0.113.${r.int(2, 250)} rejected (unsupported protocol)`],
  },
  'checkout-service': {
    debug: [(r) => `cart recalculated: cart_${r.hex(8)} totals updated`],
    info: [(r) => `checkout started: cart_${r.hex(8)}`, (r) => `order placed: ord_${r.hex(10)}`],
    warn: [(r) => `coupon-service slow response: ${r.int(600, 1500)}ms`, (r) => `cart contains discontinued item: ${sku(r)} (cart_${r.hex(8)})`],
    error: [(r) => `promo code validation failed: code expired (cart_${r.hex(8)})`],
  },
  'payments-api': {
    debug: [(r) => `idempotency key reused: pi_${r.hex(12)}`],
    info: [(r) => `payment captured: pi_${r.hex(12)} amount=${r.int(12, 480)}.${r.int(10, 99)} EUR`],
    warn: [(r) => `card declined by issuer: do_not_honor (pi_${r.hex(12)})`, (r) => `3DS challenge timed out: pi_${r.hex(12)}`],
    error: [(r) => `stripe webhook signature verification failed: evt_${r.hex(12)}`],
  },
  'inventory-service': {
    debug: [(r) => `stock cache refresh: ${r.int(40, 400)} skus updated`],
    info: [(r) => `reservation created: res_${r.hex(8)} ${sku(r)} qty=${r.int(1, 4)}`, (r) => `hold verified: hold_${r.hex(8)}`],
    warn: [(r) => `slow query on stock_levels: ${r.int(180, 420)}ms`],
    error: [(r) => `reservation rejected: insufficient stock for ${sku(r)}`],
  },
  'user-service': {
    debug: [(r) => `session cache hit ratio: ${r.int(91, 99)}%`],
    info: [(r) => `login ok: u_${r.hex(6)}`],
    warn: [(r) => `slow query: SELECT ... FROM sessions took ${r.int(250, 600)}ms`],
    error: [(r) => `password reset failed: token expired (u_${r.hex(6)})`],
  },
  'search-service': {
    debug: [() => 'query rewritten: synonyms applied'],
    info: [(r) => `search: q_len=${r.int(3, 30)} hits=${r.int(0, 900)} took ${r.int(60, 380)}ms`],
    warn: [(r) => `shard query timeout: shard ${r.int(0, 5)} retried on replica`],
    error: [() => 'elasticsearch circuit breaker tripped: [fielddata] request rejected'],
  },
  'notification-service': {
    debug: [() => 'template rendered: order_confirmation'],
    info: [(r) => `email queued: u_${r.hex(6)} order_confirmation`],
    warn: [(r) => `sms provider throttled: 429, backing off ${r.int(2, 30)}s`],
    error: [(r) => `email bounced: mailbox unavailable (u_${r.hex(6)})`],
  },
};

const levelWeights: readonly [Level, number][] = [['debug', 0.3], ['info', 0.4], ['warn', 0.2], ['error', 0.1]];

function pickLevel(rng: Random): Level {
  let roll = rng();
  for (const [level, weight] of levelWeights) {
    if (roll < weight) return level;
    roll -= weight;
  }
  return 'error';
}

interface Deploy {
  readonly service: IncidentServiceName;
  readonly version: string;
  /** Minutes relative to the alert, plus seconds. */
  readonly at: number;
  readonly second: number;
  readonly author: string;
  readonly changeSummary: string;
}

const deploys: readonly Deploy[] = [
  { service: 'inventory-service', version: 'v2.13.2', at: -2 * 24 * 60 - 95, second: 31, author: 'dpatel', changeSummary: 'Fix off-by-one in reservation expiry sweep' },
  { service: 'user-service', version: 'v7.1.9', at: -24 * 60 - 200, second: 12, author: 'mchen', changeSummary: 'Bump argon2 parameters for new password hashes' },
  { service: 'search-service', version: 'v4.3.0', at: -(4 * 60 + 55), second: 47, author: 'lgarcia', changeSummary: 'Reindex synonyms for the spring catalogue' },
  { service: 'checkout-service', version: 'v3.22.0', at: -(3 * 60 + 52), second: 8, author: 'aokafor', changeSummary: 'Add gift-wrap option to cart; new cart_items.gift_wrap column' },
  { service: 'notification-service', version: 'v1.19.2', at: -(3 * 60 + 35), second: 55, author: 'sbauer', changeSummary: 'Fix retry jitter for SMS provider' },
  { service: 'user-service', version: 'v7.2.0', at: -(2 * 60 + 20), second: 23, author: 'mchen', changeSummary: 'Add last_login_at index; session TTL 30m -> 45m' },
  { service: 'api-gateway', version: 'v2.31.4', at: -98, second: 39, author: 'rnakamura', changeSummary: 'Rate-limit config for partner API keys' },
  { service: 'payments-api', version: 'v9.4.1', at: -53, second: 16, author: 'jlindqvist', changeSummary: 'Upgrade stripe-node 14.x -> 15.x (no behaviour change expected)' },
  {
    service: 'inventory-service',
    version: 'v2.14.0',
    at: -12,
    second: 2,
    author: 'dpatel',
    changeSummary: 'Adopt platform db-client 3.x; move DB pool settings from code to helm values (db.pool.max=5, db.pool.acquireTimeoutMs=5000); drop legacy retry wrapper',
  },
  { service: 'frontend-web', version: 'v5.8.0', at: -5, second: 4, author: 'kimura', changeSummary: 'Checkout page redesign: new payment form component; React 19.1 upgrade' },
];

/** Daily traffic shape over the window: 0 at the start, 1 at the end; load goes from 0.8 to 1.15. */
function load(progress: number): number {
  return 0.8 + 0.35 * progress * progress * (3 - 2 * progress);
}

const round = (value: number, decimals: number) => {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
};

/** Error rate in percent while the incident lasts, by minutes since the alert; null before it touches the service. */
const incidentErrorRate: Partial<Record<IncidentServiceName, (r: number, rng: Random) => number | null>> = {
  'inventory-service': (r, rng) => (r < -3 ? null : r === -3 ? 6.5 : r === -2 ? 14 : 22 + 2.5 * rng.noise()),
  'checkout-service': (r, rng) => (r < -3 ? null : r === -3 ? 1.2 : r === -2 ? 4.5 : r === -1 ? 11 : 17 + 2 * rng.noise()),
  'payments-api': (r, rng) => (r < -2 ? null : r === -2 ? 0.8 : r === -1 ? 3.1 : r === 0 ? 12.4 : 24 + 2.5 * rng.noise()),
  'api-gateway': (r, rng) => (r < -1 ? null : 3.5 + 0.5 * rng.noise()),
};

const incidentP99: Partial<Record<IncidentServiceName, (r: number, rng: Random) => number | null>> = {
  'inventory-service': (r, rng) => {
    if (r < -12) return null;
    if (r < -8) return 85 + (r + 12) * 40 + 10 * rng.noise();
    if (r < -4) return 300 + (r + 8) * 350 + 40 * rng.noise();
    if (r === -4) return 1800 + 60 * rng.noise();
    if (r === -3) return 4100 + 80 * rng.noise();
    return 5000 + Math.abs(90 * rng.noise());
  },
  'checkout-service': (r, rng) => (r < -3 ? null : r === -3 ? 900 + 50 * rng.noise() : 4000 + Math.abs(40 * rng.noise())),
  'payments-api': (r, rng) => (r < -2 ? null : r === -2 ? 1400 + 60 * rng.noise() : 5100 + Math.abs(60 * rng.noise())),
  'api-gateway': (r, rng) => (r < -2 ? null : 4200 + 150 * rng.noise()),
};

function metricValue(service: ServiceProfile, metric: IncidentMetricName, r: number, progress: number, rng: Random): number | null {
  const scale = load(progress);
  const name = service.name as IncidentServiceName;
  switch (metric) {
    case 'p99_latency_ms': {
      const incident = incidentP99[name]?.(r, rng) ?? null;
      return round(incident ?? service.p99 * (0.92 + 0.1 * scale) * (1 + 0.04 * rng.noise()), 1);
    }
    case 'error_rate': {
      const incident = incidentErrorRate[name]?.(r, rng) ?? null;
      return round(Math.max(0, incident ?? service.errorRate * (1 + 0.2 * rng.noise())), 3);
    }
    case 'cpu_pct': {
      const saturated = name === 'inventory-service' && r >= -4 ? 0.7 : 1;
      return round(Math.min(100, service.cpu * scale * saturated * (1 + 0.05 * rng.noise())), 1);
    }
    case 'db_connections': {
      if (service.dbConnections === undefined) return null;
      const normal = Math.max(1, Math.round(service.dbConnections * scale + 1.5 * rng.noise()));
      if (name !== 'inventory-service' || r < -12) return normal;
      // Rolling deploy over 8 minutes: pods on the new config hold at most 5 connections in total.
      if (r < -4) return Math.max(5, Math.round(normal * (1 - (r + 12) / 8) + 5 * ((r + 12) / 8)));
      return 5;
    }
  }
}

interface Generated {
  readonly logs: LogRow[];
  readonly metrics: { ts: string; service: string; metric: IncidentMetricName; value: number }[];
}

function generate(now: number, seed: number): Generated {
  const rng = random(seed);
  const windowStart = now - windowMinutes * minute;
  const spike = now - spikeBeforeNowMinutes * minute;
  const logs: LogRow[] = [];
  const metrics: Generated['metrics'] = [];
  const log = (ms: number, service: IncidentServiceName, level: Level, message: string, traceId: string | null = rng.hex(16)) => {
    logs.push({ ms, service, level, message, traceId });
  };

  for (let index = 0; index < windowMinutes; index++) {
    const start = windowStart + index * minute;
    const r = Math.round((start - spike) / minute);
    const progress = index / (windowMinutes - 1);

    let inventoryConnections = 0;
    for (const service of services) {
      for (const metric of incidentMetricNames) {
        const value = metricValue(service, metric, r, progress, rng);
        if (value !== null) metrics.push({ ts: iso(start), service: service.name, metric, value });
        if (value !== null && service.name === 'inventory-service' && metric === 'db_connections') inventoryConnections = value;
      }
      const count = rng.poisson(service.logsPerMinute * load(progress));
      for (let line = 0; line < count; line++) {
        const level = pickLevel(rng);
        log(start + rng.int(0, 59) * 1000, service.name, level, rng.pick(backgroundTemplates[service.name][level])(rng));
      }
    }

    // The legacy pool reporter, gone with the old pods: the only place the old pool size shows.
    if (r < -12 && index % 5 === 0) {
      log(start + rng.int(0, 9) * 1000, 'inventory-service', 'info', `db pool stats: max=50 in use=${inventoryConnections} idle=${50 - inventoryConnections} waiting=0`, null);
    }
    // The root-cause rollout: six pods restart on db-client 3.2.0 with a pool of 5.
    if (r >= -11 && r <= -5 && r !== -8) {
      log(start + rng.int(5, 55) * 1000, 'inventory-service', 'info', `db-client 3.2.0 initialised: pool min=2 max=5 acquireTimeoutMs=5000 (pod inventory-service-6f7c9d-${rng.hex(5)}, v2.14.0)`, null);
    }
    // The red herring's rollout.
    if (r === -5 || r === -4) {
      for (let pod = 0; pod < 2; pod++) log(start + rng.int(20, 58) * 1000, 'frontend-web', 'info', `frontend-web v5.8.0 started: build 5f2c1ab (pod frontend-web-7d84b-${rng.hex(5)})`, null);
    }
    // Slow acquires once most pods run the small pool.
    if (r >= -8) {
      const waits = r < -3 ? rng.poisson(1 + (r + 8) * 0.6) : rng.poisson(2);
      for (let line = 0; line < waits; line++) {
        log(start + rng.int(0, 59) * 1000, 'inventory-service', 'warn', `db-client: slow connection acquire ${rng.int(r < -3 ? 900 : 3500, 4990)}ms (pool max=5, in use=5, waiting=${rng.int(r < -3 ? 1 : 12, r < -3 ? 9 : 60)})`);
      }
    }
    // Saturation: requests that wait 5 s for a connection fail, and the failure travels up the call chain.
    if (r >= -3) {
      const failures = r === -3 ? 3 : r === -2 ? 6 : rng.poisson(9);
      for (let failure = 0; failure < failures; failure++) {
        const begin = start + rng.int(0, 54) * 1000;
        const trace = rng.hex(16);
        const waiting = rng.int(12, 60);
        const viaPayments = r >= -2 && rng() < 0.5;
        const internal = !viaPayments && rng() < 0.12;
        const endpoint = viaPayments ? 'GET /v1/holds/:id' : internal ? 'POST /v1/restock-jobs' : 'POST /v1/reservations';
        log(begin + 5000, 'inventory-service', 'error', `connection pool exhausted: no connection available within 5000ms (pool max=5, in use=5, waiting=${waiting}) on ${endpoint}`, trace);
        if (internal) continue;
        if (viaPayments) {
          log(begin + 5000, 'payments-api', 'error', 'capture aborted: inventory hold verification failed (inventory-service 503 after 5000ms)', trace);
          log(begin + 5000, 'checkout-service', 'error', 'payment step failed: payments-api 502 Bad Gateway (capture aborted)', trace);
        } else {
          log(begin + 4000, 'checkout-service', 'error', 'reserve stock failed: inventory-service timed out after 4000ms (POST /v1/reservations)', trace);
        }
        if (r >= -1 && rng() < 0.5) log(begin + 5000, 'api-gateway', 'error', 'upstream checkout-service 502 Bad Gateway on POST /api/v1/checkout', trace);
      }
    }
  }
  logs.sort((a, b) => a.ms - b.ms);
  return { logs, metrics };
}

const schema = `
CREATE TABLE services (
  name TEXT PRIMARY KEY,
  team TEXT NOT NULL,
  tier INTEGER NOT NULL,            -- 1 is most critical
  depends_on TEXT                   -- comma-separated service names this service calls; NULL for none
);
CREATE TABLE deploys (
  id TEXT PRIMARY KEY,
  service TEXT NOT NULL REFERENCES services(name),
  version TEXT NOT NULL,
  deployed_at TEXT NOT NULL,        -- ISO 8601 UTC, e.g. 2025-03-14T13:40:00Z
  author TEXT NOT NULL,
  change_summary TEXT NOT NULL
);
CREATE TABLE error_logs (
  id INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,                 -- ISO 8601 UTC, second precision
  service TEXT NOT NULL REFERENCES services(name),
  level TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  message TEXT NOT NULL,
  trace_id TEXT                     -- shared by every service a request went through
);
CREATE INDEX error_logs_service_ts ON error_logs (service, ts);
CREATE INDEX error_logs_ts ON error_logs (ts);
CREATE INDEX error_logs_trace_id ON error_logs (trace_id);
CREATE TABLE metrics (
  ts TEXT NOT NULL,                 -- start of the minute, ISO 8601 UTC
  service TEXT NOT NULL REFERENCES services(name),
  metric TEXT NOT NULL CHECK (metric IN ('p99_latency_ms', 'error_rate', 'cpu_pct', 'db_connections')),
  value REAL NOT NULL,              -- error_rate in percent of requests; db_connections in use
  PRIMARY KEY (service, metric, ts)
) WITHOUT ROWID;
`;

/**
 * Writes the incident database to `path`, replacing any file there. The database is built beside it
 * and renamed into place, so a reader never sees a half-built file and concurrent builds are safe.
 */
export function createIncidentDatabase(path: string, options: CreateIncidentDatabaseOptions = {}): void {
  const now = options.now ?? defaultIncidentNow;
  if (!Number.isFinite(now)) throw new Error(`createIncidentDatabase: options.now must be epoch milliseconds, got ${now}.`);
  const { logs, metrics } = generate(now, options.seed ?? defaultIncidentSeed);
  const spike = now - spikeBeforeNowMinutes * minute;

  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${randomUUID()}.building`;
  const db = new Database(temporary);
  try {
    db.pragma('journal_mode = DELETE');
    db.exec(schema);
    db.transaction(() => {
      const insertService = db.prepare('INSERT INTO services (name, team, tier, depends_on) VALUES (?, ?, ?, ?)');
      for (const service of services) insertService.run(service.name, service.team, service.tier, service.dependsOn.length === 0 ? null : service.dependsOn.join(','));
      const insertDeploy = db.prepare('INSERT INTO deploys (id, service, version, deployed_at, author, change_summary) VALUES (?, ?, ?, ?, ?, ?)');
      const ordered = [...deploys].sort((a, b) => a.at - b.at);
      ordered.forEach((deploy, index) => {
        const at = spike + deploy.at * minute + deploy.second * 1000;
        insertDeploy.run(`dep_${String(4100 + index * 7)}`, deploy.service, deploy.version, iso(at), deploy.author, deploy.changeSummary);
      });
      const insertLog = db.prepare('INSERT INTO error_logs (ts, service, level, message, trace_id) VALUES (?, ?, ?, ?, ?)');
      for (const row of logs) insertLog.run(iso(row.ms), row.service, row.level, row.message, row.traceId);
      const insertMetric = db.prepare('INSERT INTO metrics (ts, service, metric, value) VALUES (?, ?, ?, ?)');
      for (const row of metrics) insertMetric.run(row.ts, row.service, row.metric, row.value);
    })();
    db.close();
    renameSync(temporary, path);
  } catch (error) {
    if (db.open) db.close();
    rmSync(temporary, { force: true });
    throw error;
  }
}
