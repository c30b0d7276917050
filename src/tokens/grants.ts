import { OAuthError, invalidRequest } from '../http/oauth-error.js';
import { GRANT_TYPES } from '../protocol/client-metadata-values.js';

/**
 * Grants the token endpoint serves: what discovery announces (grant_types_supported) and what
 * registration accepts (GRANT_TYPES) — one list, so the three agree.
 */
export const TOKEN_ENDPOINT_GRANT_TYPES = GRANT_TYPES;
export type TokenEndpointGrantType = (typeof TOKEN_ENDPOINT_GRANT_TYPES)[number];

/** The request's grant_type, when it is one served here. */
export function servedGrantType(params: Readonly<Record<string, string>>): TokenEndpointGrantType {
  const grantType = params.grant_type;
  if (grantType === undefined) throw invalidRequest('grant_type is required');
  if (!(TOKEN_ENDPOINT_GRANT_TYPES as readonly string[]).includes(grantType)) {
    throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported at this endpoint; use one of: ${TOKEN_ENDPOINT_GRANT_TYPES.join(', ')}`);
  }
  return grantType as TokenEndpointGrantType;
}
