import { FORBIDDEN_URI_SCHEMES } from '../protocol/client-metadata-values.js';
import type { ApplicationType } from '../protocol/client-metadata-values.js';

/**
 * Whether `hostname` (as `URL.hostname` gives it: lower-case, IP addresses in their normal
 * spelling, IPv6 in brackets) names the loopback interface: 127.0.0.0/8 (RFC 1122 §3.2.1.3),
 * ::1 and the IPv4-mapped loopback ::ffff:127.x.y.z, localhost and the names under it (RFC 6761
 * §6.3), with or without the trailing dot. The one test: registration's http-on-loopback rule
 * and the policies' allow_loopback_redirects both ask it.
 */
export function isLoopbackHost(hostname: string): boolean {
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)) return true;
  if (hostname === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(hostname)) return true;
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  return name === 'localhost' || name.endsWith('.localhost');
}

/** How the loopback hosts are named in refusals. */
const LOOPBACK = 'a loopback host (localhost, 127.0.0.0/8, [::1])';

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
  const loopback = isLoopbackHost(url.hostname);
  const web = url.protocol === 'https:' || url.protocol === 'http:';

  if (context.applicationType === 'web') {
    if (context.usesImplicit) {
      if (url.protocol !== 'https:') return 'must use https for a web client using the implicit grant';
      if (loopback) return `must not point at ${LOOPBACK} for a web client using the implicit grant`;
      return undefined;
    }
    if (url.protocol === 'https:') return undefined;
    if (url.protocol === 'http:') return loopback ? undefined : `may use http only on ${LOOPBACK}`;
    return 'must use https for a web client (custom schemes are for native clients)';
  }

  // native: a private-use scheme must be a reverse domain name the app's owner controls (RFC 8252 §7.1)
  if (!web) return url.protocol.slice(0, -1).includes('.') ? undefined : 'must use a reverse-domain private-use scheme such as com.example.app: (RFC 8252 §7.1)';
  if (url.protocol === 'http:') return loopback ? undefined : `may use http only on ${LOOPBACK} for a native client`;
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
