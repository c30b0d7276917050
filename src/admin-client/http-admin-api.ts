import type { AdminToken } from './admin-token.js';
import {
  AdminApiError,
  type AdminApi,
  type AdminClient,
  type ClientListQuery,
  type ClientPage,
  type AuditListQuery,
  type AuditPage,
  type InitialAccessTokenInfo,
  type NewInitialAccessTokenRequest,
  type RegistrationPolicyInfo,
  type RegistrationPolicyRequest,
  type ServerKeyInfo,
  type AdminUser,
  type NewUserRequest,
  type UserListQuery,
  type UserPage,
} from './types.js';

/** The server could not be reached at all (refused, timed out, name not found). */
export class AdminUnreachableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach ${url} (${describeCause(cause)})`);
    this.name = 'AdminUnreachableError';
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error && cause.name === 'TimeoutError') return 'timed out';
  // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND ...) is its cause
  const inner = cause instanceof Error && cause.cause instanceof Error ? (cause.cause as NodeJS.ErrnoException) : undefined;
  if (inner !== undefined) return inner.code ?? inner.message;
  return cause instanceof Error ? cause.message : String(cause);
}

export interface HttpAdminApiOptions {
  /** Where the server answers: its issuer, or another URL of the same server. */
  url: string;
  /** The bearer token of every request; `renew` is called once after a 401 invalid_token. */
  tokens: { get(): Promise<Pick<AdminToken, 'access_token'>>; renew(): Promise<Pick<AdminToken, 'access_token'>> };
  fetch?: typeof fetch;
  timeoutMs?: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Call {
  method: Method;
  path: string;
  query?: URLSearchParams;
  /** Sent as JSON (merge-patch+json for PATCH); undefined: no body at all. */
  body?: unknown;
}

function queryOf(query: ClientListQuery | AuditListQuery | UserListQuery): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.set(name, String(value));
  }
  return params;
}

const clientPath = (clientId: string, action = '') => `/admin/clients/${encodeURIComponent(clientId)}${action}`;
const tokenPath = (id: string, action = '') => `/admin/initial-access-tokens/${encodeURIComponent(id)}${action}`;
const policyPath = (name: string) => `/admin/policies/${encodeURIComponent(name)}`;
const userPath = (id: string, action = '') => `/admin/users/${encodeURIComponent(id)}${action}`;

/** The admin API over HTTP: base URL + /admin/..., bearer token, OAuth JSON errors as AdminApiError. */
export class HttpAdminApi implements AdminApi {
  readonly #base: string;
  readonly #options: HttpAdminApiOptions;

  constructor(options: HttpAdminApiOptions) {
    this.#base = options.url.replace(/\/+$/, '');
    this.#options = options;
  }

  async #send(call: Call, token: string): Promise<Response> {
    const url = `${this.#base}${call.path}${call.query !== undefined && call.query.size > 0 ? `?${call.query}` : ''}`;
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (call.body !== undefined) headers['content-type'] = call.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    try {
      return await (this.#options.fetch ?? fetch)(url, {
        method: call.method,
        headers,
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new AdminUnreachableError(this.#base, error);
    }
  }

  async #call<T>(call: Call): Promise<T> {
    let response = await this.#send(call, (await this.#options.tokens.get()).access_token);
    if (response.status === 401) {
      // a cached token the server no longer accepts (revoked, or its keys changed): one new try
      await response.body?.cancel();
      response = await this.#send(call, (await this.#options.tokens.renew()).access_token);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const answer = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      throw new AdminApiError(
        response.status,
        typeof answer.error === 'string' ? answer.error : `http_${response.status}`,
        typeof answer.error_description === 'string' ? answer.error_description : `${call.method} ${call.path} answered HTTP ${response.status}`,
      );
    }
    return body as T;
  }

  listClients(query: ClientListQuery): Promise<ClientPage> {
    return this.#call({ method: 'GET', path: '/admin/clients', query: queryOf(query) });
  }

  getClient(clientId: string): Promise<AdminClient> {
    return this.#call({ method: 'GET', path: clientPath(clientId) });
  }

  createClient(body: Record<string, unknown>): Promise<AdminClient & { client_secret?: string; registration_access_token: string }> {
    return this.#call({ method: 'POST', path: '/admin/clients', body });
  }

  replaceClient(clientId: string, body: Record<string, unknown>): Promise<AdminClient> {
    return this.#call({ method: 'PUT', path: clientPath(clientId), body });
  }

  patchClient(clientId: string, patch: Record<string, unknown>): Promise<AdminClient> {
    return this.#call({ method: 'PATCH', path: clientPath(clientId), body: patch });
  }

  async deleteClient(clientId: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: clientPath(clientId) });
  }

  disableClient(clientId: string): Promise<AdminClient> {
    return this.#call({ method: 'POST', path: clientPath(clientId, '/disable') });
  }

  enableClient(clientId: string): Promise<AdminClient> {
    return this.#call({ method: 'POST', path: clientPath(clientId, '/enable') });
  }

  rotateSecret(clientId: string, gracePeriodSeconds?: number): Promise<AdminClient & { client_secret: string }> {
    return this.#call({
      method: 'POST',
      path: clientPath(clientId, '/rotate-secret'),
      ...(gracePeriodSeconds !== undefined ? { body: { grace_period: gracePeriodSeconds } } : {}),
    });
  }

  rotateRegistrationToken(clientId: string): Promise<AdminClient & { registration_access_token: string }> {
    return this.#call({ method: 'POST', path: clientPath(clientId, '/rotate-registration-token') });
  }

  listKeys(): Promise<{ keys: ServerKeyInfo[] }> {
    return this.#call({ method: 'GET', path: '/admin/keys' });
  }

  rotateKeys(alg?: string): Promise<{ keys: ServerKeyInfo[] }> {
    return this.#call({ method: 'POST', path: '/admin/keys/rotate', ...(alg !== undefined ? { body: { alg } } : {}) });
  }

  listAudit(query: AuditListQuery): Promise<AuditPage> {
    return this.#call({ method: 'GET', path: '/admin/audit', query: queryOf(query) });
  }

  listInitialAccessTokens(): Promise<{ initial_access_tokens: InitialAccessTokenInfo[] }> {
    return this.#call({ method: 'GET', path: '/admin/initial-access-tokens' });
  }

  createInitialAccessToken(body: NewInitialAccessTokenRequest): Promise<InitialAccessTokenInfo & { token: string }> {
    return this.#call({ method: 'POST', path: '/admin/initial-access-tokens', body });
  }

  getInitialAccessToken(id: string): Promise<InitialAccessTokenInfo> {
    return this.#call({ method: 'GET', path: tokenPath(id) });
  }

  revokeInitialAccessToken(id: string): Promise<InitialAccessTokenInfo> {
    return this.#call({ method: 'POST', path: tokenPath(id, '/revoke') });
  }

  listPolicies(): Promise<{ policies: RegistrationPolicyInfo[] }> {
    return this.#call({ method: 'GET', path: '/admin/policies' });
  }

  getPolicy(name: string): Promise<RegistrationPolicyInfo> {
    return this.#call({ method: 'GET', path: policyPath(name) });
  }

  createPolicy(body: RegistrationPolicyRequest & { name: string }): Promise<RegistrationPolicyInfo> {
    return this.#call({ method: 'POST', path: '/admin/policies', body });
  }

  replacePolicy(name: string, body: RegistrationPolicyRequest): Promise<RegistrationPolicyInfo> {
    return this.#call({ method: 'PUT', path: policyPath(name), body });
  }

  async deletePolicy(name: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: policyPath(name) });
  }

  setDefaultPolicy(name: string): Promise<RegistrationPolicyInfo> {
    return this.#call({ method: 'PUT', path: '/admin/default-policy', body: { name } });
  }

  async clearDefaultPolicy(): Promise<void> {
    await this.#call({ method: 'DELETE', path: '/admin/default-policy' });
  }

  listUsers(query: UserListQuery): Promise<UserPage> {
    return this.#call({ method: 'GET', path: '/admin/users', query: queryOf(query) });
  }

  getUser(id: string): Promise<AdminUser> {
    return this.#call({ method: 'GET', path: userPath(id) });
  }

  createUser(body: NewUserRequest): Promise<AdminUser> {
    return this.#call({ method: 'POST', path: '/admin/users', body });
  }

  patchUser(id: string, patch: Record<string, unknown>): Promise<AdminUser> {
    return this.#call({ method: 'PATCH', path: userPath(id), body: patch });
  }

  async deleteUser(id: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: userPath(id) });
  }

  disableUser(id: string): Promise<AdminUser> {
    return this.#call({ method: 'POST', path: userPath(id, '/disable') });
  }

  enableUser(id: string): Promise<AdminUser> {
    return this.#call({ method: 'POST', path: userPath(id, '/enable') });
  }

  setUserPassword(id: string, password: string): Promise<AdminUser> {
    return this.#call({ method: 'POST', path: userPath(id, '/set-password'), body: { password } });
  }
}
