import { OutboundError } from '../outbound/fetch-json.js';

/**
 * The sector identifier of a client (OpenID Connect Core 1.0 §8.1): the host of its
 * sector_identifier_uri when it registered one, else the host its redirect_uris share. The host
 * component alone (RFC 3986 §3.2.2), without scheme or port. Undefined when there is none: no
 * redirect URI, URIs on several hosts, or a private-use scheme without a host (com.example.app:/cb);
 * registration refuses subject_type pairwise then (redirectHostsProblem).
 *
 * Derived from the metadata each time, not stored beside it: it is a pure function of two fields
 * that registration, RFC 7592 updates and the admin API already keep valid together, so a stored
 * copy could only fall out of step with them.
 */
export function sectorIdentifierOf(metadata: Readonly<Record<string, unknown>>): string | undefined {
  if (typeof metadata.sector_identifier_uri === 'string') return hostOf(metadata.sector_identifier_uri);
  const hosts = new Set(((metadata.redirect_uris as string[] | undefined) ?? []).map(hostOf));
  const [only] = hosts;
  return hosts.size === 1 ? only : undefined;
}

function hostOf(uri: string): string | undefined {
  try {
    const { hostname } = new URL(uri);
    return hostname === '' ? undefined : hostname;
  } catch {
    return undefined;
  }
}

/**
 * Why the redirect URIs of a pairwise client without a sector_identifier_uri give no sector
 * (Core §8.1: "If there are multiple hostnames in the registered redirect_uris, the Client MUST
 * register a sector_identifier_uri"), or undefined.
 */
export function redirectHostsProblem(redirectUris: readonly string[]): string | undefined {
  if (redirectUris.length === 0) return 'needs redirect_uris or a sector_identifier_uri, whose host is the sector identifier';
  const hosts = [...new Set(redirectUris.map(hostOf))];
  const hostless = redirectUris.find((uri) => hostOf(uri) === undefined);
  if (hostless !== undefined) return `needs a sector_identifier_uri: redirect_uri ${hostless} has no host to serve as the sector identifier`;
  if (hosts.length > 1) return `needs a sector_identifier_uri: the redirect_uris are on several hosts (${hosts.join(', ')})`;
  return undefined;
}

/**
 * OpenID Connect Registration 1.0 §5: the document at sector_identifier_uri, fetched by `fetch`
 * (the outbound fetcher: https, SSRF rules, timeout, size cap), must be a JSON array of URIs
 * holding every redirect_uri of the client. Returns why it is not, for the registering client.
 */
export async function sectorDocumentProblem(uri: string, redirectUris: readonly string[], fetch: (url: string) => Promise<unknown>): Promise<string | undefined> {
  let document: unknown;
  try {
    document = await fetch(uri);
  } catch (error) {
    // the outbound fetcher's messages are written to be shown (no addresses it resolved, no stack)
    if (!(error instanceof OutboundError)) return 'could not be fetched';
    return error.failure === 'invalid_response' ? `is not a JSON document: ${error.message}` : `could not be fetched: ${error.message}`;
  }
  if (!Array.isArray(document) || !document.every((entry) => typeof entry === 'string')) {
    return 'must point to a JSON array of redirect URIs (strings)';
  }
  const listed = new Set(document as string[]);
  const missing = redirectUris.filter((redirect) => !listed.has(redirect));
  if (missing.length > 0) return `does not list the redirect_uris ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' ...' : ''}`;
  return undefined;
}
