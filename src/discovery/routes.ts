import type { FastifyInstance } from 'fastify';
import type { StaticDocuments } from '../http/static-documents.js';

/** Discovery changes only with a deployment; let relying parties and proxies keep it a while. */
const CACHE_CONTROL = 'public, max-age=300';

/**
 * OIDC Discovery puts the document at issuer + /.well-known/openid-configuration; RFC 8414 §3
 * inserts /.well-known/oauth-authorization-server between the host and the issuer's path.
 */
export function discoveryPaths(issuer: string): { openid: string; oauth: string } {
  const path = new URL(issuer).pathname.replace(/\/$/, '');
  return { openid: `${path}/.well-known/openid-configuration`, oauth: `/.well-known/oauth-authorization-server${path}` };
}

export function discoveryRoutes(app: FastifyInstance, documents: StaticDocuments, issuer: string, metadata: Readonly<Record<string, unknown>>): void {
  // the bytes are made once: the document changes only with a deployment
  const body = Buffer.from(JSON.stringify(metadata));
  for (const url of Object.values(discoveryPaths(issuer))) {
    documents.route(app, url, { cacheControl: CACHE_CONTROL, contentType: 'application/json; charset=utf-8', body: () => body });
  }
}
