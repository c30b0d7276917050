import { errors } from 'jose';
import type { SecretBox } from '../crypto/secret-box.js';
import { constantTimeEqual } from '../crypto/token-hash.js';
import { OAuthError, invalidRequest } from '../http/oauth-error.js';
import { OutboundError } from '../outbound/fetch-json.js';
import type { TokenEndpointAuthMethod } from '../protocol/client-metadata-values.js';
import type { ClientRepository, StoredClient } from '../storage/client-repository.js';
import type { ReplayRepository } from '../storage/replay-repository.js';
import {
  AssertionRejected,
  JWT_BEARER_ASSERTION_TYPE,
  verifyClientAssertion,
  type AssertionPolicy,
  type VerifiedAssertion,
} from './client-assertion.js';
import type { ClientKeys } from './client-keys.js';
import type { ClientCache } from './client-cache.js';
import { clientUnusable } from './client-state.js';
import type { ClientUsage } from './client-usage.js';
import type { ClientAuthMethodLabel, Metrics } from '../metrics/metrics.js';

export interface ClientAuthDeps {
  clients: ClientRepository;
  /** Clients authenticated by JWT assertion, read once and version-checked per request. */
  cache: ClientCache;
  usage: ClientUsage;
  secrets: SecretBox;
  keys: ClientKeys;
  replay: ReplayRepository;
  policy: AssertionPolicy;
  /** Seconds since the epoch. */
  now: () => number;
  metrics: Pick<Metrics, 'clientAuthentication'>;
}

/** What a request carries: the Authorization header and the form parameters. */
export interface PresentedCredentials {
  authorization: string | undefined;
  params: Readonly<Record<string, string>>;
  /**
   * The token endpoint only: a request with no credentials but a client_id may come from a public
   * client (token_endpoint_auth_method none, RFC 6749 §2.1), which then must be registered so.
   * Introspection and revocation never take public clients.
   */
  allowPublicClient?: boolean;
}

export interface AuthenticatedClient {
  client: StoredClient;
  method: TokenEndpointAuthMethod;
}

/**
 * Why a client authentication failed, in the few words the client_authentications_total metric
 * carries (the log has the precise reason). `malformed`: no credentials, credentials that do not
 * parse, or more than one method.
 */
export const CLIENT_AUTH_FAILURES = [
  'malformed',
  'unknown_client',
  'disabled_client',
  'expired_client',
  'method_mismatch',
  'bad_secret',
  'expired_secret',
  'bad_assertion',
  'replayed_assertion',
  'key_unavailable',
] as const;
export type ClientAuthFailure = (typeof CLIENT_AUTH_FAILURES)[number];

/** invalid_client, with why in a word (for the metric) beside the reason (for the log). */
export class ClientAuthenticationFailed extends OAuthError {
  readonly failure: ClientAuthFailure;

  constructor(issuer: string, reason: string, failure: ClientAuthFailure) {
    super('invalid_client', 'client authentication failed', { 'www-authenticate': `Basic realm="${issuer}"` }, reason);
    this.failure = failure;
  }
}

/**
 * One answer for every failure, so a caller learns nothing about which check failed; the reason
 * goes to the server log (RFC 6749 §5.2).
 */
export function clientAuthenticationFailed(issuer: string, reason: string, failure: ClientAuthFailure): OAuthError {
  return new ClientAuthenticationFailed(issuer, reason, failure);
}

interface Presented {
  method: 'client_secret_basic' | 'client_secret_post' | 'jwt' | 'none';
  clientId: string | undefined;
  secret?: string;
  assertion?: string;
}

function basicCredentials(authorization: string): { clientId: string; secret: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined
    const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { clientId: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/** Which methods the request uses; RFC 6749 §2.3: exactly one. */
function presentedMethod(credentials: PresentedCredentials, issuer: string): Presented {
  const { authorization, params } = credentials;
  const found: Presented[] = [];
  if (authorization !== undefined) {
    if (!/^Basic /i.test(authorization)) throw clientAuthenticationFailed(issuer, 'Authorization header is not Basic', 'malformed');
    const basic = basicCredentials(authorization);
    if (!basic) throw clientAuthenticationFailed(issuer, 'Authorization header is not valid Basic credentials', 'malformed');
    found.push({ method: 'client_secret_basic', clientId: basic.clientId, secret: basic.secret });
  }
  if (params.client_secret !== undefined) {
    found.push({ method: 'client_secret_post', clientId: params.client_id, secret: params.client_secret });
  }
  if (params.client_assertion !== undefined || params.client_assertion_type !== undefined) {
    if (params.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE) {
      throw clientAuthenticationFailed(issuer, `client_assertion_type is not ${JWT_BEARER_ASSERTION_TYPE}`, 'malformed');
    }
    if (params.client_assertion === undefined) throw clientAuthenticationFailed(issuer, 'client_assertion is missing', 'malformed');
    found.push({ method: 'jwt', clientId: params.client_id, assertion: params.client_assertion });
  }
  if (found.length > 1) throw invalidRequest(`the request uses ${found.length} client authentication methods; use exactly one`);
  const [only] = found;
  if (!only && credentials.allowPublicClient === true && params.client_id !== undefined) return { method: 'none', clientId: params.client_id };
  if (!only) throw clientAuthenticationFailed(issuer, 'no client authentication in the request', 'malformed');
  // a client_id parameter beside Basic credentials must name the same client
  if (only.method === 'client_secret_basic' && params.client_id !== undefined && params.client_id !== only.clientId) {
    throw invalidRequest('the client_id parameter differs from the client authenticated by the Authorization header');
  }
  return only;
}

/** The assertion's iss, read before verification only to find whose key verifies it. */
function unverifiedIssuer(assertion: string): string | undefined {
  const payload = assertion.split('.')[1];
  if (payload === undefined || assertion.length > 16_384) return undefined;
  try {
    const iss = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The secrets that authenticate the client now: its current one unless expired, and after a
 * rotation with a grace period the previous one until the grace period ends.
 */
function acceptedSecrets(deps: ClientAuthDeps, client: StoredClient): string[] {
  const now = deps.now();
  if (client.secretCiphertext === null) throw clientAuthenticationFailed(deps.policy.issuer, 'client has no secret', 'bad_secret');
  const secrets: string[] = [];
  if (client.secretExpiresAt === 0 || client.secretExpiresAt > now) secrets.push(deps.secrets.open(client.secretCiphertext, client.clientId));
  if (client.previousSecret !== null && client.previousSecret.expiresAt > now) {
    // a previous secret the configured keys no longer open only shortens the grace period: the
    // current secret must still work (start-up and `secrets status` report such rows)
    try {
      secrets.push(deps.secrets.open(client.previousSecret.ciphertext, client.clientId));
    } catch {
      // skipped
    }
  }
  if (secrets.length === 0) throw clientAuthenticationFailed(deps.policy.issuer, 'client secret has expired', 'expired_secret');
  return secrets;
}

/**
 * Authenticates the client of a token, introspection or revocation request (RFC 6749 §2.3,
 * RFC 7523 §3, RFC 10070): exactly one method, the one the client registered, verified in full.
 */
export async function authenticateClient(deps: ClientAuthDeps, credentials: PresentedCredentials): Promise<AuthenticatedClient> {
  const attempt: { method: ClientAuthMethodLabel } = { method: 'none' };
  try {
    const authenticated = await verifyCredentials(deps, credentials, attempt);
    deps.metrics.clientAuthentication(authenticated.method, 'success');
    return authenticated;
  } catch (error) {
    if (error instanceof ClientAuthenticationFailed) deps.metrics.clientAuthentication(attempt.method, error.failure);
    else if (error instanceof OAuthError && error.code === 'invalid_request') deps.metrics.clientAuthentication(attempt.method, 'malformed');
    throw error;
  }
}

/** `attempt.method` follows what is learnt, so that a failure is counted under the method tried. */
async function verifyCredentials(deps: ClientAuthDeps, credentials: PresentedCredentials, attempt: { method: ClientAuthMethodLabel }): Promise<AuthenticatedClient> {
  const issuer = deps.policy.issuer;
  const fail = (reason: string, failure: ClientAuthFailure) => clientAuthenticationFailed(issuer, reason, failure);
  const presented = presentedMethod(credentials, issuer);
  attempt.method = presented.method;

  const clientId = presented.clientId ?? (presented.assertion !== undefined ? unverifiedIssuer(presented.assertion) : undefined);
  if (clientId === undefined || clientId === '') throw fail('the request names no client', 'malformed');
  const wellFormed = /^[A-Za-z0-9_-]{16,128}$/.test(clientId);
  if (!wellFormed) throw fail(`unknown client ${clientId.slice(0, 128)}`, 'unknown_client');
  const now = deps.now();
  if (presented.method === 'jwt') return authenticateWithAssertion(deps, clientId, presented.assertion!, now, attempt);

  const client = await deps.clients.findById(clientId);
  if (!client) throw fail(`unknown client ${clientId}`, 'unknown_client');
  const registered = usableWith(deps, client, presented, now);
  if (presented.method === 'none') {
    // a public client proves nothing here: PKCE, checked by the grant, binds the code to it
    deps.usage.record(client.clientId);
    return { client, method: 'none' };
  }
  // every accepted secret is compared, so the time taken does not tell which one matched
  const matches = acceptedSecrets(deps, client).map((secret) => constantTimeEqual(presented.secret ?? '', secret));
  if (!matches.includes(true)) throw fail('client secret does not match', 'bad_secret');
  deps.usage.record(client.clientId);
  return { client, method: registered };
}

/**
 * client_secret_jwt and private_key_jwt. The client comes from this instance's cache, so a
 * busy client costs no read per request, and two checks keep the copy honest: the replay insert
 * returns the stored version (a copy changed, disabled or deleted anywhere since is read again
 * and the request judged by the stored client), and a refusal with a cached copy is judged
 * again with a fresh read (new keys or secret, re-enabled).
 */
async function authenticateWithAssertion(
  deps: ClientAuthDeps,
  clientId: string,
  assertion: string,
  now: number,
  attempt: { method: ClientAuthMethodLabel },
): Promise<AuthenticatedClient> {
  const jwt: Presented = { method: 'jwt', clientId, assertion };
  const check = async (client: StoredClient) => {
    const registered = usableWith(deps, client, jwt, now);
    attempt.method = registered;
    try {
      return await verifyAssertionOf(deps, client, assertion, now);
    } catch (error) {
      if (error instanceof AssertionRejected) throw clientAuthenticationFailed(deps.policy.issuer, `${registered}: ${error.message}`, error.failure);
      throw error;
    }
  };
  const reread = async (version: number | undefined) => {
    deps.cache.forget(clientId);
    const stored = version === undefined ? undefined : await deps.cache.find(clientId);
    if (!stored) throw clientAuthenticationFailed(deps.policy.issuer, `unknown client ${clientId}`, 'unknown_client');
    return stored;
  };

  let client = await deps.cache.find(clientId);
  if (!client) throw clientAuthenticationFailed(deps.policy.issuer, `unknown client ${clientId}`, 'unknown_client');
  let verified: VerifiedAssertion;
  try {
    verified = await check(client);
  } catch (error) {
    if (!(error instanceof ClientAuthenticationFailed)) throw error;
    const stored = await reread(client.version);
    if (stored.version === client.version) throw error;
    client = stored;
    verified = await check(client);
  }
  // kept while the assertion could still be accepted: until exp plus the tolerated skew
  const use = await deps.replay.firstUse(clientId, verified.jti, verified.exp + deps.policy.clockSkewSeconds, now);
  if (!use.first) throw clientAuthenticationFailed(deps.policy.issuer, `${attempt.method}: jti has been used before`, 'replayed_assertion');
  if (use.clientVersion !== client.version) {
    // changed, disabled or deleted since it was cached: the stored client decides
    client = await reread(use.clientVersion);
    await check(client);
  }
  deps.usage.record(clientId);
  return { client, method: client.metadata.token_endpoint_auth_method as TokenEndpointAuthMethod };
}

/**
 * Whether the client may authenticate now with what the request presents: usable (not disabled
 * or expired) and registered for that method. Returns the registered method.
 */
function usableWith(deps: ClientAuthDeps, client: StoredClient, presented: Presented, now: number): TokenEndpointAuthMethod {
  const fail = (reason: string, failure: ClientAuthFailure) => clientAuthenticationFailed(deps.policy.issuer, reason, failure);
  const unusable = clientUnusable(client, now);
  if (unusable !== undefined) throw fail(unusable, client.settings.disabled ? 'disabled_client' : 'expired_client');
  const registered = client.metadata.token_endpoint_auth_method as TokenEndpointAuthMethod;
  if (presented.method === 'none') {
    if (registered !== 'none') throw fail(`client registered ${registered} but sent no credentials`, 'method_mismatch');
  } else if (presented.method === 'jwt') {
    if (registered !== 'client_secret_jwt' && registered !== 'private_key_jwt') throw fail(`client registered ${registered} but sent a JWT assertion`, 'method_mismatch');
  } else if (presented.method !== registered) {
    throw fail(`client registered ${registered} but used ${presented.method}`, 'method_mismatch');
  }
  return registered;
}

/** The assertion verified with the client's secret(s) or keys, up to (not including) the replay check. */
async function verifyAssertionOf(deps: ClientAuthDeps, client: StoredClient, assertion: string, now: number): Promise<VerifiedAssertion> {
  const method = client.metadata.token_endpoint_auth_method as 'client_secret_jwt' | 'private_key_jwt';
  const keys = method === 'client_secret_jwt' ? acceptedSecrets(deps, client).map((secret) => new TextEncoder().encode(secret)) : [await clientKeySet(deps, client)];
  let rejection: unknown;
  // a secret in its grace period after a rotation is tried after the current one
  for (const key of keys) {
    try {
      return await verifyClientAssertion(
        { assertion, clientId: client.clientId, method, pinnedAlg: client.metadata.token_endpoint_auth_signing_alg as string | undefined, key, now },
        deps.policy,
      );
    } catch (error) {
      if (!(error instanceof AssertionRejected)) throw error;
      rejection = error;
    }
  }
  throw rejection;
}

async function clientKeySet(deps: ClientAuthDeps, client: StoredClient) {
  let keys;
  try {
    keys = await deps.keys.forClient(client);
  } catch (error) {
    if (error instanceof OutboundError) throw clientAuthenticationFailed(deps.policy.issuer, `jwks_uri: ${error.message}`, 'key_unavailable');
    // a key set jose will not take is the client's problem, never a 500
    if (error instanceof errors.JOSEError) throw clientAuthenticationFailed(deps.policy.issuer, `the client's keys are unusable: ${error.code}`, 'key_unavailable');
    throw error;
  }
  if (!keys) throw clientAuthenticationFailed(deps.policy.issuer, 'client has no registered keys', 'key_unavailable');
  return keys;
}
