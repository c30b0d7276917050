import { FORBIDDEN_URI_SCHEMES } from '../protocol/client-metadata-values.js';
import type { ApplicationType } from '../protocol/client-metadata-values.js';

export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface RedirectUriContext {
  applicationType: ApplicationType;
  /** Implicit clients receive tokens in the redirect itself, so only https off loopback will do. */
  usesImplicit: boolean;
}

/** Parses an absolute URI; returns a reason when it is not one. */
export function parseAbsoluteUri(raw: string): URL | string {
  // RFC 3986 URIs are ASCII: an IRI would be stored as sent yet compared against its punycode form
  if (/[^\x21-\x7e]|[<>"{}|\\^`]/.test(raw)) return 'contains characters not allowed in a URI (RFC 3986: ASCII only, percent-encode or use punycode)';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not an absolute URI';
  }
  if ((FORBIDDEN_URI_SCHEMES as readonly string[]).includes(url.protocol)) return `uses the forbidden scheme ${url.protocol}`;
  if (url.username !== '' || url.password !== '') return 'must not carry user credentials';
  return url;
}

/**
 * The redirect URI rules of OIDC Registration §2, RFC 8252 §7 and RFC 9700 §4.1: returns why the
 * URI is refused, or undefined when it is acceptable.
 */
export function redirectUriProblem(raw: string, context: RedirectUriContext): string | undefined {
  const url = parseAbsoluteUri(raw);
  if (typeof url === 'string') return url;
  if (raw.includes('#')) return 'must not contain a fragment';
  // Redirect URIs are compared as strings (RFC 9700 §4.1.3): what is checked must be what is
  // stored, so only the normalised spelling is taken (no dot segments, lower-case scheme, ...).
  if (url.href !== raw) return `must be written in normalised form (${url.href})`;
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  const web = url.protocol === 'https:' || url.protocol === 'http:';

  if (context.applicationType === 'web') {
    if (context.usesImplicit) {
      if (url.protocol !== 'https:') return 'must use https for a web client using the implicit grant';
      if (loopback) return 'must not point at localhost for a web client using the implicit grant';
      return undefined;
    }
    if (url.protocol === 'https:') return undefined;
    if (url.protocol === 'http:') return loopback ? undefined : 'may use http only on a loopback host (localhost, 127.0.0.1, [::1])';
    return 'must use https for a web client (custom schemes are for native clients)';
  }

  // native: a private-use scheme must be a reverse domain name the app's owner controls (RFC 8252 §7.1)
  if (!web) return url.protocol.slice(0, -1).includes('.') ? undefined : 'must use a reverse-domain private-use scheme such as com.example.app: (RFC 8252 §7.1)';
  if (url.protocol === 'http:') return loopback ? undefined : 'may use http only on a loopback host (localhost, 127.0.0.1, [::1]) for a native client';
  return loopback ? 'must not use https on a loopback host for a native client (use http on loopback)' : undefined;
}

/** `web`: absolute http(s); `https`: absolute https. Returns the reason for a refusal. */
export function uriProblem(raw: string, kind: 'web' | 'https'): string | undefined {
  const url = parseAbsoluteUri(raw);
  if (typeof url === 'string') return url;
  if (kind === 'https' && url.protocol !== 'https:') return 'must use https';
  if (kind === 'web' && url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https or http';
  return undefined;
}
