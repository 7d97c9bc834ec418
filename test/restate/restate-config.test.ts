import { describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { resolveRestateConfig, restateIngressConfigured } from '../../src/restate/index.ts';

describe('Restate configuration', () => {
  it('takes options first, then KEEL_RESTATE_* variables, then the defaults', () => {
    expect(resolveRestateConfig({})).toEqual({ ingressUrl: 'http://127.0.0.1:8080', adminUrl: 'http://127.0.0.1:9070', port: 9080, serviceName: 'KeelSession' });
    const env = { KEEL_RESTATE_INGRESS_URL: 'https://restate.internal:8080/', KEEL_RESTATE_ADMIN_URL: 'http://10.0.0.5:9070', KEEL_RESTATE_PORT: '9181', KEEL_RESTATE_SERVICE: 'Sessions' };
    expect(resolveRestateConfig(env)).toEqual({ ingressUrl: 'https://restate.internal:8080', adminUrl: 'http://10.0.0.5:9070', port: 9181, serviceName: 'Sessions' });
    expect(resolveRestateConfig(env, { port: 0, ingressUrl: 'http://127.0.0.1:1' })).toMatchObject({ port: 0, ingressUrl: 'http://127.0.0.1:1' });
    expect(resolveRestateConfig({ KEEL_RESTATE_INGRESS_URL: 'http://h:1/a//b///' }).ingressUrl).toBe('http://h:1/a//b');
    expect(resolveRestateConfig({ KEEL_RESTATE_INGRESS_URL: `http://h:1/${'/'.repeat(50_000)}x` }).ingressUrl).toBe(`http://h:1/${'/'.repeat(50_000)}x`);
    expect(restateIngressConfigured(env)).toBe(true);
    expect(restateIngressConfigured({ KEEL_RESTATE_INGRESS_URL: '  ' })).toBe(false);
  });

  it('refuses a port or URL that cannot work, naming the variable', () => {
    for (const env of [{ KEEL_RESTATE_PORT: '70000' }, { KEEL_RESTATE_PORT: '80 80' }, { KEEL_RESTATE_INGRESS_URL: 'restate:8080' }, { KEEL_RESTATE_ADMIN_URL: 'ftp://host' }]) {
      const failure = (() => {
        try {
          resolveRestateConfig(env);
          return null;
        } catch (error) {
          return error;
        }
      })();
      expect(isKeelError(failure, 'invalid-config')).toBe(true);
      expect(String((failure as Error).message)).toContain(Object.keys(env)[0]);
    }
  });
});
