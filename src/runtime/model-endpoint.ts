import { parseModelSpec } from '../model/model-spec.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The host and port a session's model calls went to, for `server.address` / `server.port` on chat spans. Known only
 * for a model built from a spec (the spec is journaled on session-start): those read their base URL from the same
 * environment (`ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`, the URL inside an `openai-compatible:` spec). A model object
 * passed to createKeel directly may point anywhere, so its spans carry no server attributes rather than a guess.
 */
export function modelEndpointFromEnv(env: Env): (provider: string, spec: string | undefined) => { readonly address: string; readonly port: number } | undefined {
  return (_provider, spec) => {
    if (spec === undefined) return undefined;
    let baseUrl: string | undefined;
    try {
      const parsed = parseModelSpec(spec);
      if (parsed.provider === 'anthropic') baseUrl = nonEmpty(env.ANTHROPIC_BASE_URL) ?? 'https://api.anthropic.com';
      else if (parsed.provider === 'openai') baseUrl = nonEmpty(env.OPENAI_BASE_URL) ?? 'https://api.openai.com/v1';
      else if (parsed.provider === 'openai-compatible') baseUrl = parsed.baseURL;
    } catch {
      // A model named by an alias from createKeel's `models`, not a spec.
      return undefined;
    }
    if (baseUrl === undefined) return undefined;
    try {
      const url = new URL(baseUrl);
      return { address: url.hostname, port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
    } catch {
      return undefined;
    }
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
