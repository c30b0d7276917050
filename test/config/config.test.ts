import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARIABLES, loadConfig } from '../../src/config/config.js';

const KEY = Buffer.alloc(32, 1).toString('base64');
const dataDirs: string[] = [];
const tmp = () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'registrar-config-'));
  dataDirs.push(dataDir);
  return dataDir;
};
afterAll(() => {
  for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
});

describe('configuration from the environment', () => {
  it('has working defaults: embedded storage, port 8080, loopback, issuer from the port', () => {
    const dataDir = tmp();
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      issuer: 'http://localhost:8080',
      database: { kind: 'embedded', dataDir },
      logLevel: 'info',
      registration: { initialAccessToken: undefined, rotateAccessTokenOnUpdate: false, clientSecretTtlSeconds: 0 },
      trustProxy: false,
    });
    expect(config.scopesSupported).toContain('openid');
  });

  it('generates the embedded secrets key once, 0600, and reuses it', () => {
    const dataDir = tmp();
    const generated = loadConfig({ DATA_DIR: dataDir });
    const first = generated.secretsKeys[0]!;
    expect(first).toHaveLength(32);
    expect(statSync(join(dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
    // the server logs where it went, so the operator backs it up: on the start that made it only
    expect(generated.generatedSecretsKeyFile).toBe(join(dataDir, 'secrets.key'));
    const reused = loadConfig({ DATA_DIR: dataDir });
    expect(reused.secretsKeys[0]!.equals(first)).toBe(true);
    expect(reused.generatedSecretsKeyFile).toBeUndefined();
    expect(Buffer.from(readFileSync(join(dataDir, 'secrets.key'), 'utf8').trim(), 'base64').equals(first)).toBe(true);
  });

  it('uses PostgreSQL when DATABASE_URL is set, with the given key and previous keys', () => {
    const previous = Buffer.alloc(32, 2).toString('base64');
    const config = loadConfig({ DATABASE_URL: 'postgresql://u@db/x', SECRETS_KEY: KEY, SECRETS_KEY_PREVIOUS: previous, DATABASE_POOL_SIZE: '5' });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgresql://u@db/x', poolSize: 5 });
    expect(config.secretsKeys.map((k) => k.toString('base64'))).toEqual([KEY, previous]);
    expect(config.generatedSecretsKeyFile).toBeUndefined();
  });

  it.each([
    ['false', false],
    ['true', true],
    ['1', true],
    ['10.0.0.0/8, 192.168.1.7,::1,fd00::/8', ['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8']],
  ])('reads TRUST_PROXY=%s: whom X-Forwarded-For is believed from', (raw, trustProxy) => {
    expect(loadConfig({ SECRETS_KEY: KEY, TRUST_PROXY: raw }).trustProxy).toEqual(trustProxy);
  });

  it('reads every option', () => {
    const config = loadConfig({
      PORT: '9000', HOST: '0.0.0.0', ISSUER: 'https://id.example/tenant', SECRETS_KEY: KEY, LOG_LEVEL: 'warn',
      REGISTRATION_INITIAL_ACCESS_TOKEN: 'x'.repeat(40), ROTATE_REGISTRATION_ACCESS_TOKEN: 'true', CLIENT_SECRET_TTL: '86400',
      SCOPES_SUPPORTED: 'openid api:read api:read', SERVICE_DOCUMENTATION: 'https://docs.example', TRUST_PROXY: '1',
    });
    expect(config).toMatchObject({
      port: 9000, host: '0.0.0.0', issuer: 'https://id.example/tenant', logLevel: 'warn',
      registration: { initialAccessToken: 'x'.repeat(40), rotateAccessTokenOnUpdate: true, clientSecretTtlSeconds: 86400 },
      scopesSupported: ['openid', 'api:read'], serviceDocumentation: 'https://docs.example', trustProxy: true,
    });
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['ISSUER', { ISSUER: 'not a url' }],
    ['ISSUER', { ISSUER: 'https://as.example/?tenant=a' }],
    ['ISSUER', { ISSUER: 'https://as.example?' }],
    ['ISSUER', { ISSUER: 'https://as.example/#x' }],
    ['ISSUER', { ISSUER: 'ftp://as.example' }],
    ['ISSUER', { ISSUER: 'https://as.example/' }],
    ['ISSUER', { ISSUER: 'https://user:pw@as.example' }],
    ['ISSUER', { ISSUER: 'https://as.example/a%20b/../c' }],
    ['ISSUER', { ISSUER: 'HTTPS://AS.EXAMPLE' }],
    ['HOST', { HOST: 'not..a..host' }],
    ['HOST', { HOST: 'bad host' }],
    ['SECRETS_KEY', { DATABASE_URL: 'postgres://127.0.0.1/x' }],
    ['SECRETS_KEY', { SECRETS_KEY: 'c2hvcnQ=' }],
    ['SECRETS_KEY', { SECRETS_KEY: `${KEY}!` }],
    ['SECRETS_KEY_PREVIOUS', { SECRETS_KEY: KEY, SECRETS_KEY_PREVIOUS: 'bad' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://localhost/x', SECRETS_KEY: KEY }],
    ['DATABASE_POOL_SIZE', { DATABASE_URL: 'postgres://h/x', SECRETS_KEY: KEY, DATABASE_POOL_SIZE: '0' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud', SECRETS_KEY: KEY }],
    ['ROTATE_REGISTRATION_ACCESS_TOKEN', { ROTATE_REGISTRATION_ACCESS_TOKEN: 'maybe', SECRETS_KEY: KEY }],
    ['REGISTRATION_INITIAL_ACCESS_TOKEN', { REGISTRATION_INITIAL_ACCESS_TOKEN: 'short', SECRETS_KEY: KEY }],
    ['REGISTRATION_INITIAL_ACCESS_TOKEN', { REGISTRATION_INITIAL_ACCESS_TOKEN: `${'x'.repeat(40)}!`, SECRETS_KEY: KEY }],
    ['CLIENT_SECRET_TTL', { CLIENT_SECRET_TTL: '1.5', SECRETS_KEY: KEY }],
    ['SCOPES_SUPPORTED', { SCOPES_SUPPORTED: 'openid "quoted"', SECRETS_KEY: KEY }],
    ['SCOPES_SUPPORTED', { SCOPES_SUPPORTED: 'openid admin:write', SECRETS_KEY: KEY }],
    ['SERVICE_DOCUMENTATION', { SERVICE_DOCUMENTATION: 'docs', SECRETS_KEY: KEY }],
    ['TRUST_PROXY', { TRUST_PROXY: 'yes', SECRETS_KEY: KEY }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/33', SECRETS_KEY: KEY }],
    ['TRUST_PROXY', { TRUST_PROXY: '2', SECRETS_KEY: KEY }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.1,proxy.example', SECRETS_KEY: KEY }],
    ['SIGNING_KEY_ALGS', { SIGNING_KEY_ALGS: 'RS256,HS256', SECRETS_KEY: KEY }],
    ['SIGNING_KEY_ALGS', { SIGNING_KEY_ALGS: 'RS256,none', SECRETS_KEY: KEY }],
    ['SIGNING_KEY_ALG', { SIGNING_KEY_ALG: 'ES384', SECRETS_KEY: KEY }],
  ])('refuses a bad %s: %j', (variable, env) => {
    let thrown: unknown;
    try {
      loadConfig({ DATA_DIR: tmp(), ...env });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message.startsWith(`${variable}: `)).toBe(true);
  });

  describe('server signing algorithms', () => {
    it('holds ES256 and RS256 keys by default, and signs access tokens with ES256', () => {
      expect(loadConfig({ SECRETS_KEY: KEY }).signingKeys).toMatchObject({ algs: ['ES256', 'RS256'], alg: 'ES256' });
    });

    it('reads SIGNING_KEY_ALGS as a list, spaces and repeats forgiven', () => {
      expect(loadConfig({ SECRETS_KEY: KEY, SIGNING_KEY_ALGS: ' PS256, RS256 ,EdDSA,RS256', SIGNING_KEY_ALG: 'EdDSA' }).signingKeys).toMatchObject({
        algs: ['PS256', 'RS256', 'EdDSA'],
        alg: 'EdDSA',
      });
    });

    it('refuses a set without RS256, citing OpenID Connect Discovery', () => {
      expect(() => loadConfig({ SECRETS_KEY: KEY, SIGNING_KEY_ALGS: 'ES256,PS256' })).toThrow(
        new ConfigError('SIGNING_KEY_ALGS', 'must include RS256: OpenID Connect Discovery 1.0 §3 requires id_token_signing_alg_values_supported to include RS256, the default id_token_signed_response_alg'),
      );
    });

    it('refuses a SIGNING_KEY_ALG outside the set: access tokens need a key of that algorithm', () => {
      expect(() => loadConfig({ SECRETS_KEY: KEY, SIGNING_KEY_ALGS: 'ES256,RS256', SIGNING_KEY_ALG: 'EdDSA' })).toThrow(/^SIGNING_KEY_ALG: EdDSA must be one of SIGNING_KEY_ALGS \(ES256, RS256\)/);
      expect(loadConfig({ SECRETS_KEY: KEY, SIGNING_KEY_ALG: 'RS256' }).signingKeys).toMatchObject({ algs: ['ES256', 'RS256'], alg: 'RS256' });
    });

    it('without SIGNING_KEY_ALGS, adds SIGNING_KEY_ALG to the default set: a deployment signing with EdDSA keeps working', () => {
      expect(loadConfig({ SECRETS_KEY: KEY, SIGNING_KEY_ALG: 'EdDSA' }).signingKeys).toMatchObject({ algs: ['ES256', 'RS256', 'EdDSA'], alg: 'EdDSA' });
    });
  });

  it('never puts a key value into its error message', () => {
    const bad = `${KEY.slice(0, -2)}`;
    expect(() => loadConfig({ SECRETS_KEY: bad })).toThrow(ConfigError);
    try {
      loadConfig({ SECRETS_KEY: bad });
    } catch (error) {
      expect((error as Error).message).not.toContain(bad);
    }
  });

  it('documents exactly the variables it reads in the README config table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const documented = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ENV_VARIABLES).sort());
  });
});

describe('metrics configuration (METRICS, METRICS_PORT, METRICS_HOST)', () => {
  const load = (env: Record<string, string>) => loadConfig({ SECRETS_KEY: KEY, ...env });
  const refusal = (env: Record<string, string>) => {
    try {
      load(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(env)}`);
  };

  it('is off by default', () => {
    expect(load({}).metrics).toEqual({ enabled: false });
    expect(load({ METRICS: 'off' }).metrics).toEqual({ enabled: false });
  });

  it('METRICS=on serves them on the main port; METRICS_PORT on a loopback listener of its own', () => {
    expect(load({ METRICS: 'on' }).metrics).toEqual({ enabled: true, listener: undefined });
    expect(load({ METRICS: 'on', METRICS_PORT: '9464' }).metrics).toEqual({ enabled: true, listener: { port: 9464, host: '127.0.0.1' } });
    expect(load({ METRICS: 'on', METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ enabled: true, listener: { port: 9464, host: '0.0.0.0' } });
  });

  it.each([
    [{ METRICS: 'yes' }, 'METRICS: must be one of off, on'],
    [{ METRICS_PORT: '9464' }, 'METRICS_PORT: is set but METRICS is off'],
    [{ METRICS: 'off', METRICS_HOST: '0.0.0.0' }, 'METRICS_HOST: is set but METRICS is off'],
    [{ METRICS: 'on', METRICS_HOST: '0.0.0.0' }, 'METRICS_HOST: is used only with METRICS_PORT'],
    [{ METRICS: 'on', METRICS_PORT: 'ninety' }, 'METRICS_PORT: must be a whole number'],
    [{ METRICS: 'on', METRICS_PORT: '0' }, 'METRICS_PORT: must be between 1 and 65535'],
    [{ METRICS: 'on', METRICS_PORT: '70000' }, 'METRICS_PORT: must be between 1 and 65535'],
    [{ METRICS: 'on', METRICS_PORT: '8080' }, 'METRICS_PORT: must differ from PORT (8080)'],
    [{ METRICS: 'on', METRICS_PORT: '9464', METRICS_HOST: 'not a host' }, 'METRICS_HOST: must be an IP address or a host name'],
  ])('refuses %j', (env, message) => {
    expect(refusal(env)).toContain(message);
  });
});

describe('sign-in configuration (SESSION_*, LOGIN_RATE_LIMIT_*)', () => {
  const base = { DATABASE_URL: 'postgres://u@db/x', SECRETS_KEY: KEY };

  it('defaults: 30 minutes idle, 12 hours at most, 5 failures per account and 50 per address in 15 minutes', () => {
    const config = loadConfig(base);
    expect(config.sessions).toEqual({ idleTimeoutSeconds: 1800, maxAgeSeconds: 43_200 });
    expect(config.loginThrottle).toEqual({ perAccount: { max: 5, windowMs: 900_000, text: '5/15m' }, perAddress: { max: 50, windowMs: 900_000, text: '50/15m' } });
  });

  it('takes seconds or units, and off for a throttle', () => {
    const config = loadConfig({ ...base, SESSION_IDLE_TIMEOUT: '600', SESSION_MAX_AGE: '1d', LOGIN_RATE_LIMIT_ACCOUNT: '3/1h', LOGIN_RATE_LIMIT_ADDRESS: 'off' });
    expect(config.sessions).toEqual({ idleTimeoutSeconds: 600, maxAgeSeconds: 86_400 });
    expect(config.loginThrottle.perAccount).toMatchObject({ max: 3, windowMs: 3_600_000 });
    expect(config.loginThrottle.perAddress).toBeUndefined();
  });

  it.each([
    [{ SESSION_IDLE_TIMEOUT: 'soon' }, 'SESSION_IDLE_TIMEOUT: must be seconds'],
    [{ SESSION_IDLE_TIMEOUT: '10s' }, 'SESSION_IDLE_TIMEOUT: must be from 60 s'],
    [{ SESSION_IDLE_TIMEOUT: '2h', SESSION_MAX_AGE: '1h' }, 'SESSION_MAX_AGE: must be at least SESSION_IDLE_TIMEOUT'],
    [{ LOGIN_RATE_LIMIT_ACCOUNT: 'five' }, 'LOGIN_RATE_LIMIT_ACCOUNT: must be'],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });
});

describe('refresh tokens and resource indicators (REFRESH_TOKEN_*, RESOURCE_INDICATORS)', () => {
  const base = { DATABASE_URL: 'postgres://u@db/x', SECRETS_KEY: KEY, ISSUER: 'https://id.example' };

  it('defaults: refresh tokens idle 14 days, a family 90 days from the sign-in; no resource may be named', () => {
    const config = loadConfig(base);
    expect(config.refreshTokens).toEqual({ idleSeconds: 14 * 86_400, maxAgeSeconds: 90 * 86_400 });
    expect(config.tokens.resourceIndicators).toEqual([]);
  });

  it('takes the durations as SESSION_IDLE_TIMEOUT does, and resources as written, repeats dropped', () => {
    const config = loadConfig({ ...base, REFRESH_TOKEN_LIFETIME: '12h', REFRESH_TOKEN_MAX_AGE: '3600000', RESOURCE_INDICATORS: 'https://mcp.example.com, https://api.example/v1/,urn:example:api,https://mcp.example.com' });
    expect(config.refreshTokens).toEqual({ idleSeconds: 43_200, maxAgeSeconds: 3_600_000 });
    // compared as strings: no trailing slash is added to the MCP server's URI
    expect(config.tokens.resourceIndicators).toEqual(['https://mcp.example.com', 'https://api.example/v1/', 'urn:example:api']);
  });

  it.each([
    [{ REFRESH_TOKEN_LIFETIME: 'long' }, 'REFRESH_TOKEN_LIFETIME: must be seconds'],
    [{ REFRESH_TOKEN_LIFETIME: '30s' }, 'REFRESH_TOKEN_LIFETIME: must be from 60 s'],
    [{ REFRESH_TOKEN_LIFETIME: '30d', REFRESH_TOKEN_MAX_AGE: '7d' }, 'REFRESH_TOKEN_MAX_AGE: must be at least REFRESH_TOKEN_LIFETIME'],
    [{ RESOURCE_INDICATORS: 'mcp.example.com' }, 'RESOURCE_INDICATORS: each entry must be an absolute URI'],
    [{ RESOURCE_INDICATORS: 'https://mcp.example.com/#x' }, 'RESOURCE_INDICATORS: "https://mcp.example.com/#x" must not have a fragment'],
    [{ RESOURCE_INDICATORS: 'https://mcp.example.com/a b' }, 'must be printable ASCII without spaces'],
    [{ RESOURCE_INDICATORS: 'https://id.example/admin' }, "RESOURCE_INDICATORS: https://id.example/admin is the admin API's audience"],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });
});
