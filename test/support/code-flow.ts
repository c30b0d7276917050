import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { basic, postForm } from './client-auth.js';
import { csrfTokenOf, Visitor, type PageResponse } from './sign-in.js';
import { request, type TestServer } from './test-server.js';

/** Where the test clients are sent back to: nothing listens there, the redirect is only read. */
export const REDIRECT = 'https://rp.example/cb';

export interface RegisteredClient {
  client_id: string;
  client_secret: string;
  [field: string]: unknown;
}

export const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/**
 * The authorization code flow over real HTTP, as a browser and a relying party would run it, for
 * tests of what comes after the code (tokens, refresh, resources). Parameters are pairs, so that
 * `resource` can be repeated.
 */
export class CodeFlow {
  constructor(readonly server: TestServer) {}

  async register(metadata: Record<string, unknown>): Promise<RegisteredClient> {
    const res = await request(this.server, 'POST', '/register', { json: { redirect_uris: [REDIRECT], ...metadata } });
    if (res.status !== 201) throw new Error(res.text);
    return res.body as RegisteredClient;
  }

  async signedIn(username: string, password: string): Promise<Visitor> {
    const visitor = new Visitor(this.server.url);
    expect((await visitor.signIn(username, password)).status).toBe(303);
    return visitor;
  }

  /** Follows this server's own redirects; stops at a page or at a redirect to the client. */
  async follow(visitor: Visitor, first: PageResponse): Promise<PageResponse> {
    let res = first;
    for (let hops = 0; hops < 10 && res.location !== undefined && !res.location.startsWith(REDIRECT); hops++) {
      res = await visitor.get(res.location.startsWith('http') ? res.location.slice(this.server.url.length) : res.location);
    }
    return res;
  }

  /** GET /authorize with these parameters (a name may come more than once), redirects followed. */
  async authorize(visitor: Visitor, params: readonly (readonly [string, string])[]): Promise<PageResponse> {
    return this.follow(visitor, await visitor.get(`/authorize?${new URLSearchParams(params.map(([n, v]): [string, string] => [n, v])).toString()}`));
  }

  static isConsentPage = (page: PageResponse): boolean => page.status === 200 && page.text.includes('name="decision"');

  async answerConsent(visitor: Visitor, page: PageResponse, decision: 'allow' | 'deny' = 'allow'): Promise<PageResponse> {
    const handle = /name="request" value="([^"]+)"/.exec(page.text)![1]!;
    return this.follow(visitor, await visitor.post('/consent', { csrf_token: csrfTokenOf(page.text), request: handle, decision }));
  }

  /** The parameters of the redirect to the client (code or error, state, iss). */
  static responseOf(res: PageResponse): Record<string, string> {
    expect(res.status, res.text).toBeGreaterThanOrEqual(302);
    expect(res.location?.startsWith(REDIRECT), res.location).toBe(true);
    return Object.fromEntries(new URL(res.location!).searchParams);
  }

  /** A code for `client`, consent given when asked; `extra` pairs come after the defaults and replace them by name. */
  async codeFor(visitor: Visitor, client: { client_id: string }, extra: readonly (readonly [string, string])[] = []): Promise<string> {
    const replaced = new Set(extra.map(([name]) => name));
    const defaults = ([['response_type', 'code'], ['client_id', client.client_id], ['redirect_uri', REDIRECT], ['scope', 'openid offline_access'], ['state', 'st'], ['nonce', 'n-1']] as const)
      .filter(([name]) => !replaced.has(name));
    let res = await this.authorize(visitor, [...defaults, ...extra]);
    if (CodeFlow.isConsentPage(res)) res = await this.answerConsent(visitor, res);
    const params = CodeFlow.responseOf(res);
    expect(params.code, JSON.stringify(params)).toBeDefined();
    return params.code!;
  }

  /** POST /token as a confidential client (client_secret_basic), or as a public one (client_id only). */
  token(client: { client_id: string; client_secret?: string }, form: Record<string, string> | URLSearchParams) {
    const body = new URLSearchParams(form);
    if (client.client_secret === undefined) {
      body.set('client_id', client.client_id);
      return request(this.server, 'POST', '/token', { body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    }
    return request(this.server, 'POST', '/token', { body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.client_id, client.client_secret) } });
  }

  /** Extra parameters as a record, or as pairs to repeat one (resource). */
  private static withExtra(base: Record<string, string>, extra: Record<string, string> | readonly (readonly [string, string])[]): URLSearchParams {
    const form = new URLSearchParams(base);
    for (const [name, value] of Array.isArray(extra) ? extra : Object.entries(extra)) form.append(name, value);
    return form;
  }

  exchange(client: { client_id: string; client_secret?: string }, code: string, extra: Record<string, string> | readonly (readonly [string, string])[] = {}) {
    return this.token(client, CodeFlow.withExtra({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, extra));
  }

  refresh(client: { client_id: string; client_secret?: string }, refreshToken: string, extra: Record<string, string> | readonly (readonly [string, string])[] = {}) {
    return this.token(client, CodeFlow.withExtra({ grant_type: 'refresh_token', refresh_token: refreshToken }, extra));
  }

  introspect(client: { client_id: string; client_secret: string }, token: string, extra: Record<string, string> = {}) {
    return postForm(this.server, '/introspect', { token, ...extra }, { authorization: basic(client.client_id, client.client_secret) });
  }

  revoke(client: { client_id: string; client_secret: string }, token: string, extra: Record<string, string> = {}) {
    return postForm(this.server, '/revoke', { token, ...extra }, { authorization: basic(client.client_id, client.client_secret) });
  }
}
