import { compactVerify, decodeProtectedHeader, type CryptoKey } from 'jose';
import { clientUnusable } from '../client-auth/client-state.js';
import type { StoredClient } from '../storage/client-repository.js';
import { userIdForSubject, type SubjectDeps } from '../users/subjects.js';

/**
 * OpenID Connect RP-Initiated Logout 1.0 §2: what a relying party sends to the end_session_endpoint
 * (GET query or POST form), validated. Nothing here signs anyone out: the routes ask the user first.
 */
export const LOGOUT_PARAMETERS = ['id_token_hint', 'logout_hint', 'client_id', 'post_logout_redirect_uri', 'state', 'ui_locales'] as const;
export type LogoutParameter = (typeof LOGOUT_PARAMETERS)[number];
export type LogoutParams = Partial<Record<LogoutParameter, string>>;

/** An ID token is a few hundred bytes to a few kilobytes; anything far longer is not one of ours. */
const MAX_HINT_LENGTH = 16_384;
const MAX_PARAMETER_LENGTH = 2_048;
/** After an unknown kid, keys are re-read (another instance may have rotated) at most this often. */
const KEY_REFRESH_COOLDOWN_SECONDS = 5;
/** Access tokens are signed by the same keys; their typ tells them apart from ID tokens. */
const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface LogoutDeps {
  issuer: string;
  keys: {
    verificationKey(kid: string): { alg: string; key: CryptoKey } | undefined;
    refresh(): Promise<void>;
    age(): number;
  };
  findClient: (clientId: string) => Promise<StoredClient | undefined>;
  /** The way from a hint's sub (pairwise for some clients) back to the user. */
  subjects: SubjectDeps;
  now: () => number;
}

/** What a verified id_token_hint says: who, in which session, for which client. */
export interface LogoutHint {
  sub: string;
  sid: string | undefined;
  clientId: string;
}

export interface LogoutClient {
  clientId: string;
  name: string | undefined;
  /** The host the user is sent to (or the client's own), shown beside the name. */
  host: string | undefined;
}

export interface ValidLogoutRequest {
  hint: LogoutHint | undefined;
  /**
   * The local user the hint's sub names, as its client knows the user (public or pairwise); the
   * sub itself when the client is gone. Undefined without a hint or when nobody is found.
   */
  hintUserId: string | undefined;
  client: LogoutClient | undefined;
  /** The validated post_logout_redirect_uri with `state` added; undefined: show the signed-out page. */
  redirectTo: string | undefined;
  /** Echoed through the confirmation form so the POST can validate it all again. */
  params: LogoutParams;
}

export class LogoutRequestError extends Error {
  constructor(readonly title: string, readonly userMessage: string, readonly reason: string) {
    super(reason);
  }
}

/** One value per parameter: a repeated or non-string parameter is refused (RFC 6749 §3.1 alike). */
export function logoutParams(source: unknown): LogoutParams {
  const params: LogoutParams = {};
  const record = (typeof source === 'object' && source !== null ? source : {}) as Record<string, unknown>;
  for (const name of LOGOUT_PARAMETERS) {
    const value = record[name];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') throw invalid(`${name} given more than once`);
    if (value.length > (name === 'id_token_hint' ? MAX_HINT_LENGTH : MAX_PARAMETER_LENGTH)) throw invalid(`${name} too long`);
    params[name] = value;
  }
  return params;
}

const invalid = (reason: string) =>
  new LogoutRequestError('Invalid sign-out request', 'The application that sent you here made a sign-out request this server cannot accept. You have not been signed out.', reason);

const hintRefused = (reason: string) =>
  new LogoutRequestError('Invalid sign-out request', 'The sign-out request names a sign-in this server did not issue. You have not been signed out.', `id_token_hint refused: ${reason}`);

/**
 * Verifies an id_token_hint: signed by one of this server's published keys (its own algorithm),
 * issued by this issuer, with a subject and an audience. Expiry is not checked: §2 lets an OP take
 * an expired ID token as the hint, and logging out is when old ones turn up.
 */
export async function verifyLogoutHint(deps: LogoutDeps, token: string): Promise<LogoutHint> {
  if (token.split('.').length !== 3) throw hintRefused('not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw hintRefused('unreadable header');
  }
  if (typeof header.kid !== 'string') throw hintRefused('no kid');
  if (header.typ !== undefined && header.typ.toLowerCase() !== 'jwt') throw hintRefused(`typ ${header.typ === ACCESS_TOKEN_TYPE ? 'at+jwt (an access token)' : 'is not JWT'}`);
  let key = deps.keys.verificationKey(header.kid);
  if (!key && deps.keys.age() >= KEY_REFRESH_COOLDOWN_SECONDS) {
    await deps.keys.refresh();
    key = deps.keys.verificationKey(header.kid);
  }
  if (!key) throw hintRefused('unknown kid');
  let claims: Record<string, unknown>;
  try {
    const { payload } = await compactVerify(token, key.key, { algorithms: [key.alg] });
    claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  } catch {
    throw hintRefused('bad signature or payload');
  }
  if (typeof claims !== 'object' || claims === null) throw hintRefused('payload is not an object');
  if (claims.iss !== deps.issuer) throw hintRefused('another issuer');
  if (typeof claims.sub !== 'string' || claims.sub === '') throw hintRefused('no sub');
  const aud = claims.aud;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : [];
  if (audiences.length === 0) throw hintRefused('no aud');
  // Core §2: with several audiences, azp names the client the token was issued to
  const clientId = audiences.length === 1 ? audiences[0]! : typeof claims.azp === 'string' && audiences.includes(claims.azp) ? claims.azp : undefined;
  if (clientId === undefined) throw hintRefused('several audiences and no azp among them');
  return { sub: claims.sub, sid: typeof claims.sid === 'string' ? claims.sid : undefined, clientId };
}

const hostOf = (uri: unknown): string | undefined => {
  if (typeof uri !== 'string') return undefined;
  try {
    const url = new URL(uri);
    return url.host === '' ? undefined : url.host;
  } catch {
    return undefined;
  }
};

/** The redirect target with state added to its query (RP-Initiated Logout §3). */
function withState(uri: string, state: string | undefined): string {
  if (state === undefined) return uri;
  const url = new URL(uri);
  url.searchParams.append('state', state);
  return url.href;
}

/**
 * Validates a logout request. The client is the hint's audience or `client_id` (both must agree,
 * §2); a post_logout_redirect_uri is taken only when it is exactly one the client registered
 * (§3), and refused without a client to check it against: the server never redirects anywhere
 * else. Throws LogoutRequestError; the caller shows the error page and does not redirect.
 */
export async function validateLogoutRequest(deps: LogoutDeps, params: LogoutParams): Promise<ValidLogoutRequest> {
  const hint = params.id_token_hint === undefined ? undefined : await verifyLogoutHint(deps, params.id_token_hint);
  if (hint && params.client_id !== undefined && params.client_id !== hint.clientId) throw invalid('client_id differs from the audience of id_token_hint');
  const clientId = hint?.clientId ?? params.client_id;
  const stored = clientId === undefined ? undefined : await deps.findClient(clientId);
  const usable = stored !== undefined && clientUnusable(stored, deps.now()) === undefined ? stored : undefined;
  const hintUserId = hint === undefined ? undefined : stored === undefined ? hint.sub : await userIdForSubject(deps.subjects, stored, hint.sub);

  let redirectTo: string | undefined;
  const target = params.post_logout_redirect_uri;
  if (target !== undefined) {
    if (clientId === undefined) throw invalid('post_logout_redirect_uri without id_token_hint or client_id');
    if (!usable) throw invalid('post_logout_redirect_uri for an unknown, disabled or expired client');
    const registered = usable.metadata.post_logout_redirect_uris;
    if (!Array.isArray(registered) || !registered.includes(target)) throw invalid('post_logout_redirect_uri not registered by the client');
    redirectTo = withState(target, params.state);
  }
  const client: LogoutClient | undefined = usable && {
    clientId: usable.clientId,
    name: typeof usable.metadata.client_name === 'string' ? usable.metadata.client_name : undefined,
    host: hostOf(target) ?? hostOf(usable.metadata.client_uri) ?? hostOf((usable.metadata.redirect_uris as unknown[] | undefined)?.[0]),
  };
  return { hint, hintUserId, client, redirectTo, params };
}

/**
 * The form-action source that lets the confirmation form's 303 reach the redirect target: browsers
 * apply form-action to every redirect after a form submission (Chromium does).
 */
export function formActionSource(redirectTo: string): string {
  const url = new URL(redirectTo);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}
