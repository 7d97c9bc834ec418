import { KeelError } from '../errors/index.ts';

/** Where Keel finds a Restate cluster and serves its endpoint. */
export interface RestateConfig {
  /** The cluster's ingress, where sessions are started and approvals sent (`KEEL_RESTATE_INGRESS_URL`). */
  readonly ingressUrl: string;
  /** The cluster's admin API, where the endpoint is registered (`KEEL_RESTATE_ADMIN_URL`). */
  readonly adminUrl: string;
  /** The port `keel restate serve` listens on (`KEEL_RESTATE_PORT`). */
  readonly port: number;
  /** The virtual object that runs Keel sessions (`KEEL_RESTATE_SERVICE`), for `keel approve`. */
  readonly serviceName: string;
}

export const defaultRestateConfig: RestateConfig = { ingressUrl: 'http://127.0.0.1:8080', adminUrl: 'http://127.0.0.1:9070', port: 9080, serviceName: 'KeelSession' };

/** Options first, then `KEEL_RESTATE_INGRESS_URL`, `KEEL_RESTATE_ADMIN_URL`, `KEEL_RESTATE_PORT`, `KEEL_RESTATE_SERVICE`, then the defaults. */
export function resolveRestateConfig(env: Readonly<Record<string, string | undefined>>, given: Partial<RestateConfig> = {}): RestateConfig {
  return {
    ingressUrl: httpUrl(given.ingressUrl ?? nonEmpty(env.KEEL_RESTATE_INGRESS_URL) ?? defaultRestateConfig.ingressUrl, 'KEEL_RESTATE_INGRESS_URL'),
    adminUrl: httpUrl(given.adminUrl ?? nonEmpty(env.KEEL_RESTATE_ADMIN_URL) ?? defaultRestateConfig.adminUrl, 'KEEL_RESTATE_ADMIN_URL'),
    port: portNumber(given.port ?? nonEmpty(env.KEEL_RESTATE_PORT) ?? defaultRestateConfig.port, 'KEEL_RESTATE_PORT'),
    serviceName: given.serviceName ?? nonEmpty(env.KEEL_RESTATE_SERVICE) ?? defaultRestateConfig.serviceName,
  };
}

/** True when the environment names a Restate ingress: approvals then go to Restate first. */
export function restateIngressConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return nonEmpty(env.KEEL_RESTATE_INGRESS_URL) !== undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function httpUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new KeelError('invalid-config', `${name} must be an http(s) URL such as http://127.0.0.1:8080, got "${value.slice(0, 200)}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KeelError('invalid-config', `${name} must be an http(s) URL, got "${value.slice(0, 200)}".`);
  return withoutTrailingSlashes(url.href);
}

/** A loop, not /\/+$/: that regex backtracks quadratically over a long run of slashes not at the end. */
function withoutTrailingSlashes(href: string): string {
  let end = href.length;
  while (end > 0 && href[end - 1] === '/') end -= 1;
  return href.slice(0, end);
}

function portNumber(value: string | number, name: string): number {
  const port = typeof value === 'number' ? value : /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw new KeelError('invalid-config', `${name} must be a port number from 0 to 65535 (0 picks a free one), got "${String(value).slice(0, 50)}".`);
  return port;
}
