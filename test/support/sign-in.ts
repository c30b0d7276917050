import { randomBytes } from 'node:crypto';
import { UserRepository } from '../../src/storage/user-repository.js';
import { hashPassword } from '../../src/users/password.js';
import type { TestServer } from './test-server.js';

/** A local account straight into the server's database (the admin API has its own tests). */
export async function createUser(server: Pick<TestServer, 'db'>, username: string, password: string): Promise<string> {
  const id = randomBytes(16).toString('hex');
  await new UserRepository(server.db).insert({
    id,
    username,
    passwordHash: await hashPassword(password),
    email: null,
    emailVerified: false,
    profile: {},
    createdAt: Math.floor(Date.now() / 1000),
  });
  return id;
}

export interface PageResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Location of a redirect, undefined otherwise. */
  location: string | undefined;
  setCookies: string[];
}

/**
 * A visitor with a cookie jar, as a browser would be, over real HTTP: cookies set by answers are
 * sent back (whatever the port: instances of one deployment share the cookie), redirects are not
 * followed. `base` is where the pages are: the server URL plus the issuer path.
 */
export class Visitor {
  readonly cookies = new Map<string, string>();
  constructor(public base: string) {}

  private cookieHeader(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }

  async send(method: string, path: string, form?: Record<string, string>, headers: Record<string, string> = {}, base = this.base): Promise<PageResponse> {
    const response = await fetch(`${base}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...this.cookieHeader(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const setCookies = response.headers.getSetCookie();
    for (const cookie of setCookies) {
      const [pair = ''] = cookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/Max-Age=0/i.test(cookie) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: response.status, headers: response.headers, text: await response.text(), location: response.headers.get('location') ?? undefined, setCookies };
  }

  get = (path: string, base?: string) => this.send('GET', path, undefined, {}, base);
  post = (path: string, form: Record<string, string>, base?: string) => this.send('POST', path, form, {}, base);

  /** GET the page, then POST its form with the CSRF token it carried plus `fields`. */
  async submit(path: string, fields: Record<string, string>, base?: string): Promise<PageResponse> {
    const page = await this.get(path, base);
    return this.post(path.split('?')[0]!, { csrf_token: csrfTokenOf(page.text), ...fields }, base);
  }

  async signIn(username: string, password: string, base?: string): Promise<PageResponse> {
    return this.submit('/login', { username, password }, base);
  }
}

export function csrfTokenOf(html: string): string {
  const match = /name="csrf_token" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no CSRF token in the page:\n${html}`);
  return match[1]!;
}
