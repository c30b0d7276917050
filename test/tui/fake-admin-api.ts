import {
  AdminApiError,
  type AdminApi,
  type AdminClient,
  type AuditEntry,
  type AuditListQuery,
  type AuditPage,
  type ClientListQuery,
  type ClientPage,
  type InitialAccessTokenInfo,
  type NewInitialAccessTokenRequest,
  type RegistrationPolicyInfo,
  type RegistrationPolicyRequest,
  type ServerKeyInfo,
  type AdminUser,
  type NewUserRequest,
  type UserListQuery,
} from '../../src/admin-client/types.js';

/**
 * An in-memory admin API for the TUI's component tests: the TUI receives its API as a prop, and
 * this one answers as the contract (/admin) says, newest first, with opaque cursors. `refuse`
 * lets a test have the server refuse a body, as its validation would.
 */
export class FakeAdminApi implements AdminApi {
  readonly clients: AdminClient[];
  /** The audit trail GET /admin/audit answers from, newest first. */
  audit: AuditEntry[] = [];
  readonly calls: { method: string; args: unknown[] }[] = [];
  refuse: ((body: Record<string, unknown>) => AdminApiError | undefined) | undefined;
  private sequence = 0;

  constructor(clients: AdminClient[] = []) {
    // newest first, as the server lists them
    this.clients = [...clients].sort((a, b) => b.created_at - a.created_at);
  }

  private record(method: string, ...args: unknown[]) {
    this.calls.push({ method, args });
  }

  private find(clientId: string): AdminClient {
    const client = this.clients.find((each) => each.client_id === clientId);
    if (!client) throw new AdminApiError(404, 'not_found', `no client ${clientId}`);
    return client;
  }

  private update(clientId: string, change: Partial<AdminClient>): AdminClient {
    const index = this.clients.findIndex((each) => each.client_id === clientId);
    const updated = { ...this.find(clientId), ...change, updated_at: this.clients[index]!.updated_at + 1 } as AdminClient;
    this.clients[index] = updated;
    return updated;
  }

  async listClients(query: ClientListQuery): Promise<ClientPage> {
    this.record('listClients', query);
    const q = query.q?.toLowerCase();
    const matching = this.clients.filter((client) => q === undefined || client.client_id.toLowerCase().includes(q) || (client.client_name ?? '').toLowerCase().includes(q));
    const start = query.cursor === undefined ? 0 : Number(query.cursor.replace('after-', ''));
    const limit = query.limit ?? 50;
    const end = start + limit;
    return { clients: matching.slice(start, end), next_cursor: end < matching.length ? `after-${end}` : null };
  }

  async getClient(clientId: string): Promise<AdminClient> {
    this.record('getClient', clientId);
    return this.find(clientId);
  }

  async createClient(body: Record<string, unknown>) {
    this.record('createClient', body);
    const refusal = this.refuse?.(body);
    if (refusal) throw refusal;
    this.sequence += 1;
    const method = typeof body.token_endpoint_auth_method === 'string' ? body.token_endpoint_auth_method : 'client_secret_basic';
    const client = fakeClient({ ...body, client_id: `new-client-${this.sequence}`, token_endpoint_auth_method: method, created_at: 2_000_000_000 + this.sequence });
    this.clients.unshift(client);
    const secret = method === 'none' || method === 'private_key_jwt' ? {} : { client_secret: `secret-${this.sequence}` };
    return { ...client, ...secret, registration_access_token: `rat-${this.sequence}` };
  }

  async replaceClient(clientId: string, body: Record<string, unknown>): Promise<AdminClient> {
    this.record('replaceClient', clientId, body);
    const refusal = this.refuse?.(body);
    if (refusal) throw refusal;
    return this.update(clientId, body as Partial<AdminClient>);
  }

  async patchClient(clientId: string, patch: Record<string, unknown>): Promise<AdminClient> {
    this.record('patchClient', clientId, patch);
    const refusal = this.refuse?.(patch);
    if (refusal) throw refusal;
    const merged: Record<string, unknown> = { ...this.find(clientId) };
    for (const [name, value] of Object.entries(patch)) {
      if (value === null && name !== 'expires_at') delete merged[name];
      else merged[name] = value;
    }
    const index = this.clients.findIndex((each) => each.client_id === clientId);
    this.clients[index] = merged as AdminClient;
    return merged as AdminClient;
  }

  async deleteClient(clientId: string): Promise<void> {
    this.record('deleteClient', clientId);
    this.find(clientId);
    this.clients.splice(this.clients.findIndex((each) => each.client_id === clientId), 1);
  }

  async disableClient(clientId: string): Promise<AdminClient> {
    this.record('disableClient', clientId);
    return this.update(clientId, { disabled: true });
  }

  async enableClient(clientId: string): Promise<AdminClient> {
    this.record('enableClient', clientId);
    return this.update(clientId, { disabled: false });
  }

  async rotateSecret(clientId: string, gracePeriodSeconds?: number) {
    this.record('rotateSecret', clientId, gracePeriodSeconds);
    const client = this.find(clientId);
    if (!client.has_client_secret) throw new AdminApiError(400, 'invalid_request', `client ${clientId} authenticates with ${client.token_endpoint_auth_method}, which uses no secret`);
    this.sequence += 1;
    return { ...this.update(clientId, {}), client_secret: `rotated-secret-${this.sequence}` };
  }

  async rotateRegistrationToken(clientId: string) {
    this.record('rotateRegistrationToken', clientId);
    return { ...this.find(clientId), registration_access_token: 'rotated-rat' };
  }

  async listKeys(): Promise<{ keys: ServerKeyInfo[] }> {
    return { keys: [] };
  }

  async rotateKeys(alg?: string): Promise<{ keys: ServerKeyInfo[] }> {
    return { keys: [{ kid: 'k2', alg: alg ?? 'ES256', created_at: 0, activates_at: 600, state: 'pending' }] };
  }

  async listAudit(query: AuditListQuery): Promise<AuditPage> {
    this.record('listAudit', query);
    const matching = this.audit.filter((entry) => query.client_id === undefined || entry.client_id === query.client_id);
    const start = query.cursor === undefined ? 0 : Number(query.cursor.replace('after-', ''));
    const end = start + (query.limit ?? 50);
    return { entries: matching.slice(start, end), next_cursor: end < matching.length ? `after-${end}` : null };
  }

  readonly tokens: InitialAccessTokenInfo[] = [];
  readonly policies: RegistrationPolicyInfo[] = [];

  private findToken(id: string): InitialAccessTokenInfo {
    const token = this.tokens.find((each) => each.id === id);
    if (!token) throw new AdminApiError(404, 'not_found', `no initial access token ${id}`);
    return token;
  }

  private findPolicy(name: string): RegistrationPolicyInfo {
    const policy = this.policies.find((each) => each.name === name);
    if (!policy) throw new AdminApiError(404, 'not_found', `no registration policy ${name}`);
    return policy;
  }

  async listInitialAccessTokens() {
    this.record('listInitialAccessTokens');
    return { initial_access_tokens: [...this.tokens] };
  }

  async createInitialAccessToken(body: NewInitialAccessTokenRequest) {
    this.record('createInitialAccessToken', body);
    if (body.policy !== undefined) this.findPolicy(body.policy);
    this.sequence += 1;
    const token = fakeToken({
      id: `iat${String(this.sequence).padStart(17, '0')}`,
      description: body.description ?? null,
      policy: body.policy ?? null,
      max_uses: body.max_uses ?? null,
      uses_left: body.max_uses ?? null,
      expires_at: body.expires_in === undefined ? null : 2_000_000_000 + body.expires_in,
    });
    this.tokens.unshift(token);
    return { ...token, token: `secret-iat-${this.sequence}` };
  }

  async getInitialAccessToken(id: string) {
    this.record('getInitialAccessToken', id);
    return this.findToken(id);
  }

  async revokeInitialAccessToken(id: string) {
    this.record('revokeInitialAccessToken', id);
    const token = this.findToken(id);
    Object.assign(token, { revoked_at: token.revoked_at ?? 2_000_000_100, state: 'revoked', uses_left: 0 });
    return token;
  }

  async listPolicies() {
    this.record('listPolicies');
    return { policies: [...this.policies].sort((a, b) => a.name.localeCompare(b.name)) };
  }

  async getPolicy(name: string) {
    this.record('getPolicy', name);
    return this.findPolicy(name);
  }

  async createPolicy(body: RegistrationPolicyRequest & { name: string }) {
    this.record('createPolicy', body);
    const refusal = this.refuse?.(body as unknown as Record<string, unknown>);
    if (refusal) throw refusal;
    if (this.policies.some((each) => each.name === body.name)) throw new AdminApiError(409, 'conflict', `a registration policy named ${body.name} exists already`);
    const policy = fakePolicy({ name: body.name, description: body.description ?? null, rules: body.rules });
    this.policies.push(policy);
    return policy;
  }

  async replacePolicy(name: string, body: RegistrationPolicyRequest) {
    this.record('replacePolicy', name, body);
    const refusal = this.refuse?.(body as unknown as Record<string, unknown>);
    if (refusal) throw refusal;
    const policy = this.findPolicy(name);
    Object.assign(policy, { description: body.description ?? null, rules: body.rules, updated_at: policy.updated_at + 1 });
    return policy;
  }

  async deletePolicy(name: string) {
    this.record('deletePolicy', name);
    this.findPolicy(name);
    this.policies.splice(this.policies.findIndex((each) => each.name === name), 1);
  }

  async setDefaultPolicy(name: string) {
    this.record('setDefaultPolicy', name);
    const chosen = this.findPolicy(name);
    for (const policy of this.policies) policy.is_default = policy === chosen;
    return chosen;
  }

  async clearDefaultPolicy() {
    this.record('clearDefaultPolicy');
    for (const policy of this.policies) policy.is_default = false;
  }

  readonly users: AdminUser[] = [];
  /** The passwords set, by user id: what a test checks the TUI sent (a real server keeps a hash). */
  readonly passwords = new Map<string, string>();

  private findUser(id: string): AdminUser {
    const user = this.users.find((each) => each.id === id);
    if (!user) throw new AdminApiError(404, 'not_found', `no user ${id}`);
    return user;
  }

  private checkPassword(password: string): void {
    if (password.length < 8) throw new AdminApiError(400, 'invalid_request', 'password must be 8 to 1024 characters long');
  }

  async listUsers(query: UserListQuery) {
    this.record('listUsers', query);
    const q = query.q?.toLowerCase();
    const matching = this.users.filter((user) => q === undefined || user.username.toLowerCase().includes(q) || (user.email ?? '').toLowerCase().includes(q));
    const start = query.cursor === undefined ? 0 : Number(query.cursor.replace('after-', ''));
    const end = start + (query.limit ?? 50);
    return { users: matching.slice(start, end), next_cursor: end < matching.length ? `after-${end}` : null };
  }

  async getUser(id: string) {
    this.record('getUser', id);
    return this.findUser(id);
  }

  async createUser(body: NewUserRequest) {
    const { password, ...rest } = body;
    this.record('createUser', rest);
    this.checkPassword(password);
    if (this.users.some((each) => each.username.toLowerCase() === body.username.toLowerCase())) throw new AdminApiError(409, 'conflict', `the username ${body.username} is taken`);
    this.sequence += 1;
    const user = fakeUser({ ...(rest as Partial<AdminUser>), id: `user${String(this.sequence).padStart(28, '0')}`, username: body.username, created_at: 2_000_000_000 + this.sequence });
    this.users.unshift(user);
    this.passwords.set(user.id, password);
    return user;
  }

  async patchUser(id: string, patch: Record<string, unknown>) {
    this.record('patchUser', id, patch);
    const user = this.findUser(id);
    for (const [name, value] of Object.entries(patch)) {
      if (value === null) delete (user as unknown as Record<string, unknown>)[name];
      else (user as unknown as Record<string, unknown>)[name] = value;
    }
    return user;
  }

  async deleteUser(id: string) {
    this.record('deleteUser', id);
    this.findUser(id);
    this.users.splice(this.users.findIndex((each) => each.id === id), 1);
  }

  async disableUser(id: string) {
    this.record('disableUser', id);
    return Object.assign(this.findUser(id), { disabled: true });
  }

  async enableUser(id: string) {
    this.record('enableUser', id);
    return Object.assign(this.findUser(id), { disabled: false });
  }

  async setUserPassword(id: string, password: string) {
    this.record('setUserPassword', id);
    this.checkPassword(password);
    this.passwords.set(id, password);
    return this.findUser(id);
  }
}

/** A user as the admin API shows it, over plausible defaults. */
export function fakeUser(fields: Partial<AdminUser> & { id: string; username: string }): AdminUser {
  return { email_verified: false, phone_number_verified: false, disabled: false, created_at: 2_000_000_000, updated_at: 2_000_000_000, ...fields };
}

/** An initial access token as the admin API shows it, over plausible defaults. */
export function fakeToken(fields: Partial<InitialAccessTokenInfo> & { id: string }): InitialAccessTokenInfo {
  return { description: null, policy: null, max_uses: null, uses: 0, uses_left: null, expires_at: null, revoked_at: null, created_at: 2_000_000_000, state: 'active', ...fields };
}

export function fakePolicy(fields: Partial<RegistrationPolicyInfo> & { name: string }): RegistrationPolicyInfo {
  return { description: null, rules: {}, is_default: false, created_at: 2_000_000_000, updated_at: 2_000_000_000, ...fields };
}

/** An audit entry as the admin API lists it, with the given fields over plausible defaults. */
export function fakeAuditEntry(fields: Partial<AuditEntry> & { id: number }): AuditEntry {
  return {
    at: 1_700_000_000 + fields.id,
    action: 'client.update',
    actor_type: 'admin',
    actor_id: 'admin-client-0000000001',
    client_id: 'client-00000000000001',
    source_address: '127.0.0.1',
    request_id: `request-${fields.id}`,
    changed_fields: ['client_name'],
    details: {},
    ...fields,
  };
}

/** A client as the admin API represents it, with the given fields over plausible defaults. */
export function fakeClient(fields: Record<string, unknown> & { client_id: string }): AdminClient {
  const method = (fields.token_endpoint_auth_method as string | undefined) ?? 'client_secret_basic';
  const createdAt = (fields.created_at as number | undefined) ?? 1_700_000_000;
  return {
    application_type: 'web',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: method,
    id_token_signed_response_alg: 'RS256',
    subject_type: 'public',
    client_id_issued_at: createdAt,
    has_client_secret: method.startsWith('client_secret'),
    ...(method.startsWith('client_secret') ? { client_secret_expires_at: 0 } : {}),
    registration_client_uri: `http://127.0.0.1:8080/register/${fields.client_id}`,
    access_token_format: 'jwt',
    access_token_lifetime: 300,
    expires_at: null,
    disabled: false,
    admin: false,
    resource_server: false,
    created_at: createdAt,
    updated_at: createdAt,
    created_via: 'admin_api',
    last_used_at: null,
    initial_access_token_id: null,
    registration_policy: null,
    ...fields,
  } as AdminClient;
}
