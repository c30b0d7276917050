import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { ipLiteral, isAllowListed, isBlockedAddress } from './address-policy.js';

/**
 * The one way this server reaches out to URLs that clients give it (jwks_uri, sector_identifier_uri;
 * software statement keys later). Each rule here stops a known SSRF route.
 */
export interface OutboundPolicy {
  /** `host[:port]` entries that may use http and private addresses (tests, internal deployments). */
  allowedHosts: ReadonlySet<string>;
  timeoutMs: number;
  maxBytes: number;
}

/**
 * Why a fetch failed, in a few words a metric can carry: refused by the policy (scheme, internal
 * address), no answer in time, an answer other than 200, too large, not a usable document, or a
 * network error.
 */
export const OUTBOUND_FAILURES = ['refused', 'timeout', 'http_status', 'too_large', 'invalid_response', 'network'] as const;
export type OutboundFailure = (typeof OUTBOUND_FAILURES)[number];

/** A refused or failed fetch. The message is safe to log and to show a registering client. */
export class OutboundError extends Error {
  readonly failure: OutboundFailure;

  constructor(message: string, failure: OutboundFailure) {
    super(message);
    this.name = 'OutboundError';
    this.failure = failure;
  }
}

export interface FetchedJson {
  body: unknown;
  /** The response's Cache-Control header, for the caller's caching decision. */
  cacheControl: string | undefined;
}

/** Static checks, before any network traffic; also what registration applies to a jwks_uri. */
export function outboundUrlProblem(raw: string, policy: Pick<OutboundPolicy, 'allowedHosts'>): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  const allowListed = isAllowListed(url, policy.allowedHosts);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowListed)) return 'must use https';
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (allowListed) return undefined;
  const ip = ipLiteral(url.hostname);
  if (ip !== undefined && isBlockedAddress(ip)) return 'points at a private, loopback or otherwise internal address';
  if (url.hostname === 'localhost' || url.hostname.endsWith('.localhost')) return 'points at localhost';
  return undefined;
}

/**
 * Resolves like dns.lookup, then refuses the connection when any resolved address is internal.
 * Checking inside the socket's own lookup means the address checked is the address connected to,
 * so DNS rebinding between a check and the connection is not possible.
 */
export function guardedLookup(allowListed: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      if (!allowListed && addresses.some((a) => isBlockedAddress(a.address))) {
        return callback(new OutboundError(`${hostname} resolves to an internal address`, 'refused'), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const [first] = addresses;
      if (!first) return callback(new OutboundError(`${hostname} has no address`, 'network'), '', 0);
      return callback(null, first.address, first.family);
    });
  };
}

/** GET a JSON document under the policy: no redirects, bounded time and size. */
export function fetchJson(raw: string, policy: OutboundPolicy, accept = 'application/json'): Promise<FetchedJson> {
  const problem = outboundUrlProblem(raw, policy);
  if (problem) return Promise.reject(new OutboundError(`${raw} ${problem}`, 'refused'));
  const url = new URL(raw);
  const allowListed = isAllowListed(url, policy.allowedHosts);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<FetchedJson>((resolve, reject) => {
    const fail = (message: string, failure: OutboundFailure) => {
      clearTimeout(timer);
      request.destroy();
      reject(new OutboundError(message, failure));
    };
    const timer = setTimeout(() => fail(`${url.origin} did not answer within ${policy.timeoutMs} ms`, 'timeout'), policy.timeoutMs);
    const request = send(url, {
      method: 'GET',
      headers: { accept, 'user-agent': 'oidc-registrar' },
      lookup: guardedLookup(allowListed),
      // a private agent per request: no pooled socket that was checked for another host
      agent: false,
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error instanceof OutboundError ? error : new OutboundError(`${url.origin} could not be fetched (${(error as NodeJS.ErrnoException).code ?? error.message})`, 'network'));
    });
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) return fail(`${url.origin} answered with a redirect, which is not followed`, 'http_status');
      if (status !== 200) return fail(`${url.origin} answered with status ${status}`, 'http_status');
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > policy.maxBytes) return fail(`${url.origin} sent more than ${policy.maxBytes} bytes`, 'too_large');
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > policy.maxBytes) return fail(`${url.origin} sent more than ${policy.maxBytes} bytes`, 'too_large');
        chunks.push(chunk);
      });
      response.on('end', () => {
        clearTimeout(timer);
        try {
          resolve({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), cacheControl: response.headers['cache-control'] });
        } catch {
          reject(new OutboundError(`${url.origin} did not answer with JSON`, 'invalid_response'));
        }
      });
      response.on('error', () => fail(`${url.origin} broke off the response`, 'network'));
    });
    request.end();
  });
}
