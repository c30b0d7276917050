import type { FastifyRequest } from 'fastify';
import type { AuditActor, ChangeContext } from '../audit/audit.js';

/**
 * Who and where, for the audit entry of a change: built here from the request, handed to the
 * domain function as a plain value. request.ip honours TRUST_PROXY; request.id is the
 * x-request-id of the answer.
 */
export function changeContext(request: FastifyRequest, actor: AuditActor): ChangeContext {
  return { actor, sourceAddress: request.ip, requestId: request.id };
}
