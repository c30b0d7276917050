import type { AccessTokenFormat } from '../admin-client/types.js';
import { ADMIN_SCOPE_VALUES, adminAudience } from '../admin/scopes.js';
import { REGISTRATION_MODES, type RegistrationMode } from '../registration/registration-access.js';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseAllowListEntry, type AllowListEntry } from '../rate-limit/allow-list.js';
import { parseRate, type Rate } from '../rate-limit/rate.js';

/**
 * Every environment variable the server reads, with its default and meaning. The README's config
 * table is checked against this list by a test.
 */
export const ENV_VARIABLES = {
  PORT: 'TCP port to listen on (default 8080).',
  HOST: 'Address to listen on (default 127.0.0.1; 0.0.0.0 in containers).',
  ISSUER: 'Issuer identifier: absolute http(s) URL, no query, fragment or trailing slash (default http://localhost:$PORT).',
  DATABASE_URL: 'PostgreSQL connection string. Unset: embedded PostgreSQL (PGlite) in DATA_DIR.',
  DATA_DIR: 'Directory of the embedded database and its generated secrets key (default ./data).',
  SECRETS_KEY: '32 random bytes, base64: encrypts client secrets at rest. Required with DATABASE_URL; generated into DATA_DIR when embedded.',
  SECRETS_KEY_PREVIOUS: 'Comma-separated earlier SECRETS_KEY values, still accepted for decryption while secrets are re-encrypted.',
  LOG_LEVEL: 'pino log level: fatal, error, warn, info, debug, trace or silent (default info).',
  REGISTRATION_MODE: 'Who may POST /register: open (anyone), protected (only with an initial access token, RFC 7591 §3) or closed (nobody; operators create clients). Default open, or protected when REGISTRATION_INITIAL_ACCESS_TOKEN is set.',
  REGISTRATION_INITIAL_ACCESS_TOKEN: 'A static initial access token, valid beside those operators create (no use limit, the default policy); setting it alone makes REGISTRATION_MODE protected.',
  ADMIN_BOOTSTRAP: 'Embedded database only: true makes the first start write DATA_DIR/admin-credentials.json, the key of an admin client for the CLI and TUI (default true).',
  ROTATE_REGISTRATION_ACCESS_TOKEN: 'true: every PUT to the client configuration endpoint issues a new registration access token (default false).',
  CLIENT_SECRET_TTL: 'Lifetime of issued client secrets in seconds; 0 means they do not expire (default 0).',
  SCOPES_SUPPORTED: 'Space-separated scopes clients may register (default "openid profile email address phone offline_access").',
  SERVICE_DOCUMENTATION: 'URL of human-readable documentation, announced in discovery as service_documentation (optional).',
  REQUEST_TIMEOUT: 'Seconds within which a request\'s headers and body must arrive; later it gets 408 and its connection is closed (default 30).',
  TRUST_PROXY: 'Whose X-Forwarded-For to believe: a comma-separated list of your proxies\' addresses or CIDRs, true (every hop: only behind a proxy that replaces the header), or false (default false).',
  DATABASE_POOL_SIZE: 'Maximum PostgreSQL connections per instance (default 10).',
  ACCESS_TOKEN_LIFETIME: 'Lifetime of access tokens in seconds (default 300).',
  ACCESS_TOKEN_FORMAT: 'Access tokens of clients without a format of their own: jwt (RFC 9068, verified with /jwks) or reference (opaque, checked through introspection) (default jwt).',
  ACCESS_TOKEN_AUDIENCE: 'The aud claim of access tokens (default: the issuer).',
  SIGNING_KEY_ALGS: 'Comma-separated algorithms the server holds a signing key for, each with its own key and rotation: ES256, RS256, PS256, EdDSA; must include RS256 (default ES256,RS256 and SIGNING_KEY_ALG).',
  SIGNING_KEY_ALG: 'Algorithm access tokens are signed with, one of SIGNING_KEY_ALGS (default ES256).',
  SIGNING_KEY_ROTATION_INTERVAL: 'Seconds after which a new signing key is introduced automatically; 0 turns this off (default 0).',
  SIGNING_KEY_ACTIVATION_DELAY: 'Seconds a new signing key is published before it signs, so that verifiers see it first (default 600, at least 330).',
  CLOCK_SKEW: 'Seconds of clock difference tolerated in client assertions (default 30).',
  CLIENT_ASSERTION_MAX_LIFETIME: 'Longest accepted client assertion lifetime, exp minus now, in seconds (default 300).',
  CLIENT_ASSERTION_ACCEPT_ENDPOINT_AUDIENCE: 'true: also accept an endpoint URL (token, introspection, revocation) as the only assertion aud (legacy clients; default false).',
  CLIENT_USAGE_TRACKING: 'false: last_used_at of clients is not recorded (it costs one UPDATE a minute per instance; default true).',
  CLIENT_CACHE_SIZE: 'How many clients (for JWT client authentication), clients\' parsed key sets, and fetched jwks_uri documents an instance keeps in memory (default 10000).',
  OUTBOUND_ALLOWED_HOSTS: 'Comma-separated host[:port] list that outbound fetches (jwks_uri, sector_identifier_uri) may reach over http or on internal addresses.',
  OUTBOUND_TIMEOUT_MS: 'Timeout of outbound fetches in milliseconds (default 3000).',
  OUTBOUND_MAX_BYTES: 'Largest outbound response accepted, in bytes (default 524288).',
  METRICS: 'on: Prometheus metrics at GET /metrics (on the main port, outside the issuer path, unless METRICS_PORT is set); off hides them (default off: counters on a public port tell outsiders about traffic).',
  METRICS_PORT: 'With METRICS=on: serve /metrics on this port instead, on its own listener bound to METRICS_HOST, and not on PORT.',
  METRICS_HOST: 'Address the METRICS_PORT listener binds to (default 127.0.0.1: loopback only).',
  AUDIT_RETENTION: 'How long audit entries are kept: seconds, or a number with s, m, h or d (90d); 0 or forever keeps them all (default 90d).',
  RATE_LIMIT_REGISTER: 'Registrations per client address on POST /register, as N/second, N/minute, N/hour or N/<k>s|m|h, or off (default 20/minute).',
  RATE_LIMIT_REGISTER_GLOBAL: 'Registrations from all addresses together, same format, or off (default 1000/hour).',
  RATE_LIMIT_TOKEN: 'Requests per client address on the token, introspection and revocation endpoints, same format, or off (default 3000/minute).',
  RATE_LIMIT_ALLOW_LIST: 'Comma-separated IPv4/IPv6 addresses or CIDRs exempt from every rate limit (default none).',
  REDIS_URL: 'redis:// or rediss:// URL: token-endpoint rate-limit counters are shared through it; unset, each instance counts in memory.',
  SESSION_IDLE_TIMEOUT: 'A sign-in session ends after this long without use: seconds, or a number with s, m, h or d (default 30m).',
  SESSION_MAX_AGE: 'A sign-in session ends this long after the sign-in, however much it is used: same format, at least SESSION_IDLE_TIMEOUT (default 12h).',
  LOGIN_RATE_LIMIT_ACCOUNT: 'Failed sign-ins per account (from any address) before its sign-in is refused until the window ends, as N/<k>s|m|h, or off (default 5/15m).',
  LOGIN_RATE_LIMIT_ADDRESS: 'Failed sign-ins per client address (for any account), same format, or off (default 50/15m).',
  REFRESH_TOKEN_LIFETIME: 'A refresh token not used for this long stops working (each use gives a new one): seconds, or a number with s, m, h or d (default 14d).',
  REFRESH_TOKEN_MAX_AGE: 'The refresh tokens of one sign-in stop working this long after it, however often they are used: same format, at least REFRESH_TOKEN_LIFETIME (default 90d).',
  RESOURCE_INDICATORS: 'Comma-separated absolute URIs (no fragment) clients may name as resource (RFC 8707), the audience of the access tokens asked for them; empty refuses every resource (default empty).',
} as const;

export type EnvVariable = keyof typeof ENV_VARIABLES;

export interface Config {
  port: number;
  host: string;
  issuer: string;
  database: { kind: 'postgres'; url: string; poolSize: number } | { kind: 'embedded'; dataDir: string };
  /** Current key first; the rest only decrypt. */
  secretsKeys: readonly Buffer[];
  /** DATA_DIR/secrets.key when this start generated it: the operator must back it up with the data. */
  generatedSecretsKeyFile: string | undefined;
  logLevel: string;
  /** Embedded only: write an admin client's credentials into DATA_DIR on the first start. */
  adminBootstrap: boolean;
  registration: {
    mode: RegistrationMode;
    initialAccessToken: string | undefined;
    rotateAccessTokenOnUpdate: boolean;
    clientSecretTtlSeconds: number;
  };
  scopesSupported: readonly string[];
  serviceDocumentation: string | undefined;
  /**
   * Fastify's trustProxy: false, true (every hop), or the proxies' addresses/CIDRs.
   * It decides request.ip, which rate limits, the allow-list and the audit trail key on.
   */
  trustProxy: boolean | string[];
  /** A request whose headers and body have not arrived by then is answered 408 and cut. */
  requestTimeoutSeconds: number;
  tokens: {
    lifetimeSeconds: number;
    format: AccessTokenFormat;
    audience: string;
    /** RESOURCE_INDICATORS: the resources (RFC 8707) access tokens may be asked for, as written. */
    resourceIndicators: readonly string[];
  };
  /** Refresh tokens: the idle lifetime of each, and the absolute one of a family from the sign-in. */
  refreshTokens: {
    idleSeconds: number;
    maxAgeSeconds: number;
  };
  signingKeys: {
    /** Every algorithm the server holds a key for: what ID tokens and userinfo may be signed with. */
    algs: readonly ServerSigningAlg[];
    /** The algorithm of access tokens, one of `algs`. */
    alg: ServerSigningAlg;
    rotationIntervalSeconds: number;
    activationDelaySeconds: number;
  };
  clientAuth: {
    clockSkewSeconds: number;
    maxAssertionLifetimeSeconds: number;
    acceptEndpointAudience: boolean;
  };
  /** Bound of the per-instance caches of clients' keys (parsed sets, fetched documents). */
  clientCacheSize: number;
  /** Whether last_used_at is recorded. */
  clientUsageTracking: boolean;
  outbound: {
    allowedHosts: ReadonlySet<string>;
    timeoutMs: number;
    maxBytes: number;
  };
  /** Off, on the main port (`listener` undefined), or on a listener of its own. */
  metrics: { enabled: false } | { enabled: true; listener: { port: number; host: string } | undefined };
  audit: {
    /** Entries older than this many seconds are purged in the background; null: kept forever. */
    retentionSeconds: number | null;
  };
  /** Each limit undefined when it is off. */
  rateLimits: {
    register: Rate | undefined;
    registerGlobal: Rate | undefined;
    token: Rate | undefined;
    allowList: readonly AllowListEntry[];
    redisUrl: string | undefined;
  };
  /** Browser sessions of signed-in users. */
  sessions: {
    idleTimeoutSeconds: number;
    maxAgeSeconds: number;
  };
  /** Failed sign-ins allowed per window; undefined when off. */
  loginThrottle: {
    perAccount: Rate | undefined;
    perAddress: Rate | undefined;
  };
}

/**
 * The algorithms the server can hold a key for. RSA keys (RS256, PS256) are made with 2048-bit
 * moduli, jose's default and the floor of RFC 7518 §3.3 and NIST SP 800-131A; larger ones cost
 * more to generate and every verification for no gain a verifier asks for.
 */
export const SERVER_SIGNING_ALGS = ['ES256', 'RS256', 'PS256', 'EdDSA'] as const;
export const DEFAULT_SERVER_SIGNING_ALGS = ['ES256', 'RS256'] as const satisfies readonly ServerSigningAlg[];

/** The longest access token lifetime, server-wide or per client (signing keys stay published that long). */
export const MAX_ACCESS_TOKEN_LIFETIME = 86_400;
export const ACCESS_TOKEN_FORMATS = ['jwt', 'reference'] as const satisfies readonly AccessTokenFormat[];
export type ServerSigningAlg = (typeof SERVER_SIGNING_ALGS)[number];

/** Start-up refuses to go on with a bad value; the message names the variable. */
export class ConfigError extends Error {
  constructor(variable: EnvVariable, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function read(env: Env, name: EnvVariable): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: EnvVariable, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: EnvVariable, values: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

function boolean(env: Env, name: EnvVariable, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function rate(env: Env, name: EnvVariable, fallback: string): Rate | undefined {
  const parsed = parseRate(read(env, name) ?? fallback);
  if (parsed !== undefined && 'problem' in parsed) throw new ConfigError(name, parsed.problem);
  return parsed;
}

function rateLimits(env: Env): Config['rateLimits'] {
  const allowList = (read(env, 'RATE_LIMIT_ALLOW_LIST') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const parsed = parseAllowListEntry(entry);
      if (typeof parsed === 'string') throw new ConfigError('RATE_LIMIT_ALLOW_LIST', `${parsed}; give addresses or CIDRs, comma-separated`);
      return parsed;
    });
  const redisUrl = read(env, 'REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
  return {
    register: rate(env, 'RATE_LIMIT_REGISTER', DEFAULT_RATE_LIMITS.register),
    registerGlobal: rate(env, 'RATE_LIMIT_REGISTER_GLOBAL', DEFAULT_RATE_LIMITS.registerGlobal),
    token: rate(env, 'RATE_LIMIT_TOKEN', DEFAULT_RATE_LIMITS.token),
    allowList,
    redisUrl,
  };
}

/** The production defaults (the README explains each); test servers turn them off unless asked. */
export const DEFAULT_RATE_LIMITS = { register: '20/minute', registerGlobal: '1000/hour', token: '3000/minute' } as const;

function absoluteHttpUrl(name: EnvVariable, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(name, 'must use https (or http)');
  return url;
}

function issuer(env: Env, port: number): string {
  const raw = read(env, 'ISSUER') ?? `http://localhost:${port}`;
  const url = absoluteHttpUrl('ISSUER', raw);
  if (url.search !== '' || raw.includes('?')) throw new ConfigError('ISSUER', 'must not have a query component');
  if (url.hash !== '' || raw.includes('#')) throw new ConfigError('ISSUER', 'must not have a fragment component');
  if (url.username !== '' || url.password !== '') throw new ConfigError('ISSUER', 'must not carry credentials');
  if (raw.endsWith('/')) throw new ConfigError('ISSUER', 'must not end with "/" (endpoints are issuer + "/register" ...)');
  // Announced as given and compared exactly by clients, so it must already be in normal form.
  if (url.href !== raw && url.href !== `${raw}/`) throw new ConfigError('ISSUER', `must be written in normalised form (${url.href.replace(/\/$/, '')})`);
  return raw;
}

export function decodeSecretsKey(name: EnvVariable, raw: string): Buffer {
  const key = Buffer.from(raw, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw) || key.length !== 32) {
    throw new ConfigError(name, 'must be 32 random bytes in base64 (openssl rand -base64 32)');
  }
  return key;
}

/** Embedded mode keeps its key beside the data, created once, readable by the owner only. */
function embeddedSecretsKey(dataDir: string): { key: Buffer; generatedFile: string | undefined } {
  const file = join(dataDir, 'secrets.key');
  let generatedFile: string | undefined;
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    generatedFile = file;
  }
  chmodSync(file, 0o600);
  return { key: decodeSecretsKey('SECRETS_KEY', readFileSync(file, 'utf8').trim()), generatedFile };
}

function listenHost(env: Env, name: EnvVariable): string {
  const host = read(env, name) ?? '127.0.0.1';
  if (isIP(host) === 0 && !/^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(host)) {
    throw new ConfigError(name, `must be an IP address or a host name, got "${host}"`);
  }
  return host;
}

function metrics(env: Env, port: number): Config['metrics'] {
  const enabled = oneOf(env, 'METRICS', ['off', 'on'], 'off') === 'on';
  const metricsPort = read(env, 'METRICS_PORT');
  if (!enabled) {
    // set but unused would look like metrics being served where they are not
    if (metricsPort !== undefined) throw new ConfigError('METRICS_PORT', 'is set but METRICS is off; set METRICS=on or unset METRICS_PORT');
    if (read(env, 'METRICS_HOST') !== undefined) throw new ConfigError('METRICS_HOST', 'is set but METRICS is off');
    return { enabled: false };
  }
  if (metricsPort === undefined) {
    if (read(env, 'METRICS_HOST') !== undefined) throw new ConfigError('METRICS_HOST', 'is used only with METRICS_PORT');
    return { enabled: true, listener: undefined };
  }
  const listener = { port: integer(env, 'METRICS_PORT', 0, 1, 65535), host: listenHost(env, 'METRICS_HOST') };
  if (listener.port === port) throw new ConfigError('METRICS_PORT', `must differ from PORT (${port})`);
  return { enabled: true, listener };
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const host = listenHost(env, 'HOST');
  const databaseUrl = read(env, 'DATABASE_URL');
  const dataDir = resolve(read(env, 'DATA_DIR') ?? './data');

  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// connection string');
  }
  const rawKey = read(env, 'SECRETS_KEY');
  if (databaseUrl !== undefined && rawKey === undefined) {
    throw new ConfigError('SECRETS_KEY', 'is required when DATABASE_URL is set (openssl rand -base64 32)');
  }
  const currentKey = rawKey !== undefined ? { key: decodeSecretsKey('SECRETS_KEY', rawKey), generatedFile: undefined } : embeddedSecretsKey(dataDir);
  const previousKeys = (read(env, 'SECRETS_KEY_PREVIOUS') ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '')
    .map((k) => decodeSecretsKey('SECRETS_KEY_PREVIOUS', k));

  const logLevel = read(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  const initialAccessToken = read(env, 'REGISTRATION_INITIAL_ACCESS_TOKEN');
  if (initialAccessToken !== undefined && (initialAccessToken.length < 32 || !/^[A-Za-z0-9\-._~+/]+=*$/.test(initialAccessToken))) {
    throw new ConfigError('REGISTRATION_INITIAL_ACCESS_TOKEN', 'must be at least 32 characters of a bearer token (RFC 6750 token68; openssl rand -base64 32)');
  }

  const scopes = (read(env, 'SCOPES_SUPPORTED') ?? 'openid profile email address phone offline_access').split(/\s+/);
  if (scopes.some((s) => ADMIN_SCOPE_VALUES.includes(s))) {
    throw new ConfigError('SCOPES_SUPPORTED', `${ADMIN_SCOPE_VALUES.join(' and ')} are granted only to clients an operator made admin and cannot be registered`);
  }
  if (scopes.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) {
    throw new ConfigError('SCOPES_SUPPORTED', 'scope tokens must be printable ASCII without quotes or backslashes (RFC 6749 §3.3)');
  }

  const serviceDocumentation = read(env, 'SERVICE_DOCUMENTATION');
  if (serviceDocumentation !== undefined) absoluteHttpUrl('SERVICE_DOCUMENTATION', serviceDocumentation);

  const signingAlg = read(env, 'SIGNING_KEY_ALG') ?? 'ES256';
  if (!(SERVER_SIGNING_ALGS as readonly string[]).includes(signingAlg)) {
    throw new ConfigError('SIGNING_KEY_ALG', `must be one of ${SERVER_SIGNING_ALGS.join(', ')}`);
  }
  const signingAlgs = serverSigningAlgs(env, signingAlg as ServerSigningAlg);
  if (!(signingAlgs as readonly string[]).includes(signingAlg)) {
    throw new ConfigError('SIGNING_KEY_ALG', `${signingAlg} must be one of SIGNING_KEY_ALGS (${signingAlgs.join(', ')}): access tokens are signed with a server key of that algorithm`);
  }
  const issuerId = issuer(env, port);
  const audience = read(env, 'ACCESS_TOKEN_AUDIENCE') ?? issuerId;
  const allowedHosts = (read(env, 'OUTBOUND_ALLOWED_HOSTS') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  if (allowedHosts.some((h) => !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(h))) {
    throw new ConfigError('OUTBOUND_ALLOWED_HOSTS', 'must be a comma-separated list of host or host:port');
  }

  return {
    port,
    host,
    issuer: issuerId,
    database:
      databaseUrl !== undefined
        ? { kind: 'postgres', url: databaseUrl, poolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000) }
        : { kind: 'embedded', dataDir },
    secretsKeys: [currentKey.key, ...previousKeys],
    generatedSecretsKeyFile: currentKey.generatedFile,
    logLevel,
    adminBootstrap: boolean(env, 'ADMIN_BOOTSTRAP', true),
    registration: {
      // the static token alone has always meant protected registration; it still does
      mode: oneOf(env, 'REGISTRATION_MODE', REGISTRATION_MODES, initialAccessToken !== undefined ? 'protected' : 'open'),
      initialAccessToken,
      rotateAccessTokenOnUpdate: boolean(env, 'ROTATE_REGISTRATION_ACCESS_TOKEN', false),
      clientSecretTtlSeconds: integer(env, 'CLIENT_SECRET_TTL', 0, 0, 10 * 365 * 24 * 3600),
    },
    scopesSupported: [...new Set(scopes)],
    serviceDocumentation,
    trustProxy: trustProxy(env),
    requestTimeoutSeconds: integer(env, 'REQUEST_TIMEOUT', 30, 1, 600),
    tokens: {
      lifetimeSeconds: integer(env, 'ACCESS_TOKEN_LIFETIME', 300, 1, MAX_ACCESS_TOKEN_LIFETIME),
      format: oneOf(env, 'ACCESS_TOKEN_FORMAT', ACCESS_TOKEN_FORMATS, 'jwt'),
      audience,
      resourceIndicators: resourceIndicators(env, issuerId),
    },
    refreshTokens: refreshTokens(env),
    signingKeys: {
      algs: signingAlgs,
      alg: signingAlg as ServerSigningAlg,
      rotationIntervalSeconds: integer(env, 'SIGNING_KEY_ROTATION_INTERVAL', 0, 0, 10 * 365 * 86_400),
      // at least the JWKS max-age (300 s) plus how often instances re-read keys (30 s):
      // otherwise a verifier could meet a token signed by a key it has not been shown yet
      activationDelaySeconds: integer(env, 'SIGNING_KEY_ACTIVATION_DELAY', 600, 330, 7 * 86_400),
    },
    clientAuth: {
      clockSkewSeconds: integer(env, 'CLOCK_SKEW', 30, 0, 300),
      maxAssertionLifetimeSeconds: integer(env, 'CLIENT_ASSERTION_MAX_LIFETIME', 300, 1, 86_400),
      acceptEndpointAudience: boolean(env, 'CLIENT_ASSERTION_ACCEPT_ENDPOINT_AUDIENCE', false),
    },
    clientCacheSize: integer(env, 'CLIENT_CACHE_SIZE', 10_000, 1, 1_000_000),
    clientUsageTracking: boolean(env, 'CLIENT_USAGE_TRACKING', true),
    outbound: {
      allowedHosts: new Set(allowedHosts),
      timeoutMs: integer(env, 'OUTBOUND_TIMEOUT_MS', 3000, 100, 60_000),
      maxBytes: integer(env, 'OUTBOUND_MAX_BYTES', 512 * 1024, 1024, 10 * 1024 * 1024),
    },
    metrics: metrics(env, port),
    audit: { retentionSeconds: auditRetention(env) },
    rateLimits: rateLimits(env),
    sessions: sessions(env),
    loginThrottle: {
      perAccount: rate(env, 'LOGIN_RATE_LIMIT_ACCOUNT', DEFAULT_LOGIN_THROTTLE.perAccount),
      perAddress: rate(env, 'LOGIN_RATE_LIMIT_ADDRESS', DEFAULT_LOGIN_THROTTLE.perAddress),
    },
  };
}

export const DEFAULT_LOGIN_THROTTLE = { perAccount: '5/15m', perAddress: '50/15m' } as const;

function sessions(env: Env): Config['sessions'] {
  const idleTimeoutSeconds = duration(env, 'SESSION_IDLE_TIMEOUT', 30 * 60, 60, 30 * 86_400);
  const maxAgeSeconds = duration(env, 'SESSION_MAX_AGE', 12 * 3600, 60, 400 * 86_400);
  if (maxAgeSeconds < idleTimeoutSeconds) throw new ConfigError('SESSION_MAX_AGE', `must be at least SESSION_IDLE_TIMEOUT (${idleTimeoutSeconds} s), got ${maxAgeSeconds} s`);
  return { idleTimeoutSeconds, maxAgeSeconds };
}

function refreshTokens(env: Env): Config['refreshTokens'] {
  const idleSeconds = duration(env, 'REFRESH_TOKEN_LIFETIME', 14 * 86_400, 60, 400 * 86_400);
  const maxAgeSeconds = duration(env, 'REFRESH_TOKEN_MAX_AGE', 90 * 86_400, 60, 10 * 365 * 86_400);
  if (maxAgeSeconds < idleSeconds) throw new ConfigError('REFRESH_TOKEN_MAX_AGE', `must be at least REFRESH_TOKEN_LIFETIME (${idleSeconds} s), got ${maxAgeSeconds} s`);
  return { idleSeconds, maxAgeSeconds };
}

/**
 * RESOURCE_INDICATORS (RFC 8707 §2): absolute URIs without a fragment. Requests must name them
 * exactly as written here: they are compared as strings, like redirect URIs (MCP servers are named
 * without a trailing slash, which a URL parser would add). The admin API's audience is not a
 * resource clients may ask for: its tokens come only with the admin scopes.
 */
function resourceIndicators(env: Env, issuerId: string): string[] {
  const entries = (read(env, 'RESOURCE_INDICATORS') ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  for (const entry of entries) {
    if (!URL.canParse(entry)) throw new ConfigError('RESOURCE_INDICATORS', `each entry must be an absolute URI, got "${entry}"`);
    if (entry.includes('#')) throw new ConfigError('RESOURCE_INDICATORS', `"${entry}" must not have a fragment (RFC 8707 §2)`);
    if (!/^[\x21-\x7e]+$/.test(entry)) throw new ConfigError('RESOURCE_INDICATORS', `"${entry}" must be printable ASCII without spaces`);
    if (entry === adminAudience(issuerId)) throw new ConfigError('RESOURCE_INDICATORS', `${entry} is the admin API's audience, given only with the admin scopes`);
  }
  return [...new Set(entries)];
}

/**
 * TRUST_PROXY. A proxy that appends to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for, most
 * load balancers) passes on whatever the caller put there first, so `true` lets a caller pick its
 * own address; the proxies' addresses believe only the hops the operator vouches for. (Fastify
 * no longer honours hop counts: they cannot tell a proxy from a direct caller.)
 */
/**
 * SIGNING_KEY_ALGS: a key is held for each. RS256 is required: OpenID Connect Discovery 1.0 §3
 * says id_token_signing_alg_values_supported MUST include it, and it is the registration default
 * of id_token_signed_response_alg (Registration §2), so a client that names none gets RS256.
 */
function serverSigningAlgs(env: Env, accessTokenAlg: ServerSigningAlg): ServerSigningAlg[] {
  const raw = read(env, 'SIGNING_KEY_ALGS');
  // unset: a deployment from before SIGNING_KEY_ALGS (SIGNING_KEY_ALG=EdDSA) keeps its algorithm
  if (raw === undefined) return [...new Set<ServerSigningAlg>([...DEFAULT_SERVER_SIGNING_ALGS, accessTokenAlg])];
  const algs = [...new Set(raw.split(',').map((alg) => alg.trim()).filter((alg) => alg !== ''))];
  const unknown = algs.filter((alg) => !(SERVER_SIGNING_ALGS as readonly string[]).includes(alg));
  if (unknown.length > 0) throw new ConfigError('SIGNING_KEY_ALGS', `must be a comma-separated list of ${SERVER_SIGNING_ALGS.join(', ')}, got "${unknown.join(', ')}"`);
  if (!algs.includes('RS256')) {
    throw new ConfigError('SIGNING_KEY_ALGS', 'must include RS256: OpenID Connect Discovery 1.0 §3 requires id_token_signing_alg_values_supported to include RS256, the default id_token_signed_response_alg');
  }
  return algs as ServerSigningAlg[];
}

function trustProxy(env: Env): boolean | string[] {
  const raw = read(env, 'TRUST_PROXY');
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  const valid = (entry: string) => {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || extra !== undefined) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  };
  if (entries.length === 0 || !entries.every(valid)) {
    throw new ConfigError('TRUST_PROXY', `must be false, true, or your proxies' addresses/CIDRs (10.0.0.0/8,::1), got "${raw}"`);
  }
  return entries;
}

const RETENTION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
/** Ten years: longer is "forever", which says so. */
const MAX_AUDIT_RETENTION = 10 * 365 * 86_400;

/** Seconds from "90d", "12h", "30m", "45s" or "3600"; NaN when the text is none of those. */
function parseDuration(raw: string): number {
  const match = /^(\d{1,12})([smhd]?)$/.exec(raw);
  return match === null ? Number.NaN : Number(match[1]) * RETENTION_UNITS[match[2] === '' ? 's' : match[2]!]!;
}

function duration(env: Env, name: EnvVariable, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const seconds = parseDuration(raw);
  if (Number.isNaN(seconds)) throw new ConfigError(name, `must be seconds, or a number with s, m, h or d (30m), got "${raw}"`);
  if (seconds < min || seconds > max) throw new ConfigError(name, `must be from ${min} s to ${max / 86_400}d, got "${raw}"`);
  return seconds;
}

/** AUDIT_RETENTION: "90d", "12h", "3600"; "0" or "forever" keeps every entry (null). */
function auditRetention(env: Env): number | null {
  const raw = read(env, 'AUDIT_RETENTION');
  if (raw === undefined) return 90 * 86_400;
  if (raw === 'forever' || raw === '0') return null;
  const seconds = parseDuration(raw);
  if (Number.isNaN(seconds)) throw new ConfigError('AUDIT_RETENTION', `must be seconds, or a number with s, m, h or d (90d), or 0 or forever, got "${raw}"`);
  if (seconds > MAX_AUDIT_RETENTION) throw new ConfigError('AUDIT_RETENTION', `must be at most ${MAX_AUDIT_RETENTION / 86_400}d (use forever to keep everything), got "${raw}"`);
  return seconds;
}
