import type { AuditPage } from '../admin-client/types.js';
import { AUDIT_ACTIONS, type AuditAction } from '../audit/audit.js';
import { invalidRequest } from '../http/oauth-error.js';
import { UNSTORABLE } from '../registration/validate-metadata.js';
import type { AuditFilter, AuditRepository } from '../storage/audit-repository.js';
import { CLIENT_ID_SHAPE, pageLimit, queryParameters, timeParam } from './clients.js';


/** The query parameters of GET /admin/audit (the OpenAPI document and the CLI name the same). */
export const AUDIT_QUERY_PARAMETERS = ['limit', 'cursor', 'client_id', 'action', 'actor', 'since', 'until'] as const;

/** An actor filter is an actor type or an id: the longest id is an OS user@host. */
const MAX_ACTOR_LENGTH = 300;

const encodeCursor = (id: number) => Buffer.from(JSON.stringify([id])).toString('base64url');

function decodeCursor(cursor: string): number {
  try {
    const [id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(id) && (id as number) > 0) return id as number;
  } catch {
    // refused below
  }
  throw invalidRequest('cursor is not one this server handed out (next_cursor of a previous page)');
}

/**
 * GET /admin/audit: one page of the audit trail, newest first, filtered by the query string.
 * Unknown and repeated parameters are refused, as GET /admin/clients refuses them.
 */
export async function listAudit(audit: Pick<AuditRepository, 'list'>, parameters: Readonly<Record<string, string | readonly string[] | undefined>>): Promise<AuditPage> {
  const query = queryParameters(parameters, AUDIT_QUERY_PARAMETERS);
  const limit = pageLimit(query.limit);
  const filter: AuditFilter = {};
  if (query.client_id !== undefined) {
    if (!CLIENT_ID_SHAPE.test(query.client_id)) throw invalidRequest('client_id must be a client id (16 to 128 of A-Z a-z 0-9 _ -)');
    filter.clientId = query.client_id;
  }
  if (query.action !== undefined) {
    if (!(AUDIT_ACTIONS as readonly string[]).includes(query.action)) throw invalidRequest(`action must be one of ${AUDIT_ACTIONS.join(', ')}`);
    filter.action = query.action as AuditAction;
  }
  if (query.actor !== undefined) {
    // text the database cannot hold (NUL, lone surrogates) can match nothing: refused, not a 500
    if (query.actor === '' || query.actor.length > MAX_ACTOR_LENGTH || UNSTORABLE.test(query.actor)) {
      throw invalidRequest(`actor must be an actor type or id of 1 to ${MAX_ACTOR_LENGTH} characters, without NUL or unpaired surrogates`);
    }
    filter.actor = query.actor;
  }
  const since = timeParam('since', query.since);
  if (since !== undefined) filter.since = since;
  const until = timeParam('until', query.until);
  if (until !== undefined) filter.until = until;

  // one row more than asked: whether a next page exists, without a count
  const rows = await audit.list(filter, query.cursor === undefined ? undefined : decodeCursor(query.cursor), limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { entries: page, next_cursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
