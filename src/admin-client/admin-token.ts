import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type CryptoKey } from 'jose';
import { JWT_BEARER_ASSERTION_TYPE } from '../client-auth/client-assertion.js';
import type { LoadedCredentials } from './credentials.js';
import { AdminUnreachableError } from './http-admin-api.js';
import { AdminApiError } from './types.js';

/** Admin tools ask for both: admin:write does not imply admin:read. */
export const ADMIN_SCOPE = 'admin:read admin:write';
/** A cached token is given up this long before it expires, so that it never expires mid-request. */
export const EXPIRY_MARGIN_SECONDS = 30;
/** Assertions live a minute: they are made for one request and sent at once. */
const ASSERTION_LIFETIME_SECONDS = 60;

export interface AdminToken {
  access_token: string;
  token_type: string;
  /** Epoch seconds. */
  expires_at: number;
  scope: string;
}

/** The token endpoint refused the credentials, or answered something that is not a token. */
export class AdminTokenError extends AdminApiError {
  constructor(status: number, error: string, description: string) {
    super(status, error, description);
    this.name = 'AdminTokenError';
  }
}

/** `${XDG_CACHE_HOME:-~/.cache}/oidc-registrar`. */
export function defaultTokenCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'oidc-registrar');
}

/**
 * One file per issuer, client and server URL (the base the token is sent to): a token obtained
 * from one server is never presented to another that --url points at. Named by a hash, so none
 * of them leaks into a directory listing.
 */
export function tokenCacheFile(cacheDir: string, issuer: string, clientId: string, url: string): string {
  const key = createHash('sha256').update(JSON.stringify([issuer, clientId, normalUrl(url)])).digest('hex').slice(0, 32);
  return join(cacheDir, `token-${key}.json`);
}

const normalUrl = (url: string) => url.replace(/\/+$/, '');

interface CachedToken extends AdminToken {
  issuer: string;
  client_id: string;
  /** The server URL the token was obtained from, and the only one it is sent to. */
  url: string;
}

function readCachedToken(file: string, issuer: string, clientId: string, url: string, now: number): AdminToken | undefined {
  let cached: Partial<CachedToken>;
  try {
    cached = JSON.parse(readFileSync(file, 'utf8')) as Partial<CachedToken>;
  } catch {
    return undefined; // absent or damaged: a new token replaces it
  }
  const usable =
    cached.issuer === issuer &&
    cached.client_id === clientId &&
    cached.url === url &&
    typeof cached.access_token === 'string' &&
    typeof cached.expires_at === 'number' &&
    cached.expires_at - EXPIRY_MARGIN_SECONDS > now;
  return usable ? { access_token: cached.access_token!, token_type: cached.token_type ?? 'Bearer', expires_at: cached.expires_at!, scope: cached.scope ?? '' } : undefined;
}

/** Written whole and then renamed into place, readable by the owner only. */
function writeCachedToken(file: string, cacheDir: string, token: CachedToken): void {
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      writeFileSync(temporary, `${JSON.stringify(token)}\n`, { mode: 0o600, flag: 'wx' });
      renameSync(temporary, file);
    } finally {
      rmSync(temporary, { force: true });
    }
  } catch {
    // an unwritable cache only costs a token request next time
  }
}

export interface AdminTokenSourceOptions {
  loaded: LoadedCredentials;
  /** Where the server is reached; the assertion's audience is always the credentials' issuer. */
  url: string;
  /** Undefined: no cache on disk. */
  cacheDir?: string | undefined;
  fetch?: typeof fetch;
  /** Epoch seconds. */
  now?: () => number;
  timeoutMs?: number;
}

/** Gives out an admin access token: the cached one while it lasts, a new one otherwise. */
export interface AdminTokenSource {
  get(): Promise<AdminToken>;
  /** Asks the server for a new token, whatever the cache holds (after a 401 invalid_token). */
  renew(): Promise<AdminToken>;
}

async function signAssertion(loaded: LoadedCredentials, now: number): Promise<string> {
  const { credentials, signingKey } = loaded;
  return new SignJWT()
    .setProtectedHeader({ alg: credentials.private_jwk.alg, kid: credentials.private_jwk.kid })
    .setIssuer(credentials.client_id)
    .setSubject(credentials.client_id)
    .setAudience(credentials.issuer)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_LIFETIME_SECONDS)
    .sign(signingKey as CryptoKey);
}

/**
 * POST {url}/token, client_credentials, authenticated with a private_key_jwt assertion. The
 * assertion appears in no error message: only the server's error and description do.
 */
export async function requestAdminToken(options: AdminTokenSourceOptions): Promise<AdminToken> {
  const now = (options.now ?? (() => Math.floor(Date.now() / 1000)))();
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    scope: ADMIN_SCOPE,
    client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
    client_assertion: await signAssertion(options.loaded, now),
  });
  const endpoint = `${options.url.replace(/\/+$/, '')}/token`;
  const response = await (options.fetch ?? fetch)(endpoint, {
    method: 'POST',
    body,
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  }).catch((error: unknown) => {
    throw new AdminUnreachableError(options.url, error);
  });
  const answer = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!response.ok) {
    const error = typeof answer?.error === 'string' ? answer.error : 'token_request_failed';
    const description = typeof answer?.error_description === 'string' ? answer.error_description : `HTTP ${response.status} from ${endpoint}`;
    throw new AdminTokenError(response.status, error, description);
  }
  if (typeof answer?.access_token !== 'string' || typeof answer.expires_in !== 'number') {
    throw new AdminTokenError(response.status, 'invalid_token_response', `${endpoint} answered without access_token and expires_in`);
  }
  return {
    access_token: answer.access_token,
    token_type: typeof answer.token_type === 'string' ? answer.token_type : 'Bearer',
    expires_at: now + answer.expires_in,
    scope: typeof answer.scope === 'string' ? answer.scope : '',
  };
}

/** Tokens cached in memory and, with a cacheDir, in a 0600 file reused by later commands. */
export function adminTokenSource(options: AdminTokenSourceOptions): AdminTokenSource {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const { issuer, client_id: clientId } = options.loaded.credentials;
  const url = normalUrl(options.url);
  const file = options.cacheDir === undefined ? undefined : tokenCacheFile(options.cacheDir, issuer, clientId, url);
  let current: AdminToken | undefined;

  const renew = async () => {
    current = await requestAdminToken(options);
    if (file !== undefined) writeCachedToken(file, options.cacheDir!, { issuer, client_id: clientId, url, ...current });
    return current;
  };
  return {
    renew,
    async get() {
      if (current !== undefined && current.expires_at - EXPIRY_MARGIN_SECONDS > now()) return current;
      current = file === undefined ? undefined : readCachedToken(file, issuer, clientId, url, now());
      return current ?? renew();
    },
  };
}
