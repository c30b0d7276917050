import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { AuditActor, AuditRecord } from '../audit/audit.js';
import { changeContext } from '../http/change-context.js';
import { requireBearerToken } from '../http/bearer.js';
import { insufficientScope, invalidToken, OAuthError } from '../http/oauth-error.js';
import { verifyAccessToken, type AccessTokenDeps } from '../tokens/access-tokens.js';
import { ADMIN_SCOPES, adminAudience } from './scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin client whose token authorised this request (admin routes only). */
    adminClientId: string | null;
  }
}

/**
 * Every route of `scope` needs one of this server's own access tokens (JWT or reference) of an
 * admin client: admin:read to read, admin:write for anything else. A token whose client has
 * since been disabled, expired, deleted or stripped of `admin` no longer works.
 */
export function requireAdminToken(scope: FastifyInstance, tokens: AccessTokenDeps, recordRefusal: (entry: AuditRecord) => Promise<void>): void {
  scope.decorateRequest('adminClientId', null);
  const throttle = new RefusalThrottle();
  // onRequest: nothing about the request, its body included, is looked at before the caller is known
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    // who was refused, as far as the token tells: nobody known, a client, or an admin lacking a scope
    let actor: AuditActor = { type: 'anonymous', id: null };
    try {
      const found = await verifyAccessToken(tokens, requireBearerToken(request.headers.authorization));
      if (!found) throw invalidToken(true, 'not an active access token of this server');
      actor = { type: found.client.settings.admin ? 'admin' : 'client', id: found.client.clientId };
      if (!found.client.settings.admin) throw invalidToken(true, `client ${found.client.clientId} is not an admin client`);
      const audiences = Array.isArray(found.claims.aud) ? found.claims.aud : [found.claims.aud];
      if (!audiences.includes(adminAudience(tokens.issuer))) throw invalidToken(true, 'the token is not addressed to the admin API');
      const needed = request.method === 'GET' || request.method === 'HEAD' ? ADMIN_SCOPES.read : ADMIN_SCOPES.write;
      if (!(found.claims.scope ?? '').split(' ').includes(needed)) throw insufficientScope(needed);
      request.adminClientId = found.client.clientId;
    } catch (error) {
      if (error instanceof OAuthError && (error.status === 401 || error.status === 403)) await recordRefused(request, actor, error, throttle, recordRefusal);
      throw error;
    }
  });
}

/** Refusals of one kind from one address are written at most this often. */
export const REFUSAL_RECORD_INTERVAL_MS = 60_000;
/** Kinds of refusal remembered per instance (address, who, why): a bound on memory. */
const REFUSAL_KINDS_REMEMBERED = 10_000;

/**
 * Anyone can send junk tokens to /admin, and each refusal would otherwise be a row: a way to fill
 * the audit table without credentials. The first refusal of a kind (same address, actor, error,
 * reason and route) is written at once; repeats within the minute are counted in memory and
 * the next entry of that kind says how many there were (`details.repeated`).
 */
class RefusalThrottle {
  readonly #kinds = new LRUCache<string, { since: number; repeated: number }>({ max: REFUSAL_KINDS_REMEMBERED });

  /** Undefined: skip this one (counted); a number: write it, with that many repeats before it. */
  admit(kind: string, now: number): number | undefined {
    const seen = this.#kinds.get(kind);
    if (seen !== undefined && now - seen.since < REFUSAL_RECORD_INTERVAL_MS) {
      seen.repeated += 1;
      return undefined;
    }
    this.#kinds.set(kind, { since: now, repeated: 0 });
    return seen?.repeated ?? 0;
  }
}

/**
 * A refused admin request has no change to join: its entry is an insert of its own, at most one
 * a minute per kind of refusal and address (RefusalThrottle). The token itself is never
 * recorded, only the error and its reason. When even that insert fails, the caller still gets the
 * 401 or 403, and the log says so.
 */
async function recordRefused(
  request: FastifyRequest,
  actor: AuditActor,
  error: OAuthError,
  throttle: RefusalThrottle,
  recordRefusal: (entry: AuditRecord) => Promise<void>,
): Promise<void> {
  const reason = (error.logReason ?? error.message).slice(0, 200);
  const repeated = throttle.admit(JSON.stringify([request.ip, actor.type, actor.id, error.status, error.code, reason, request.method, request.routeOptions.url]), Date.now());
  if (repeated === undefined) return;
  try {
    await recordRefusal({
      action: 'admin.authentication_failed',
      context: changeContext(request, actor),
      details: {
        status: error.status,
        error: error.code,
        reason,
        method: request.method,
        path: (request.url.split('?')[0] ?? '').slice(0, 200),
        ...(repeated > 0 ? { repeated } : {}),
      },
    });
  } catch (failure) {
    request.log.error({ err: failure }, 'could not record a refused admin authentication in the audit trail');
  }
}
