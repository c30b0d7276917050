import { ACR_VALUES_SUPPORTED, isSupportedAcr } from '../../protocol/acr.js';
import { ClaimsRequestError, isEmptyClaimsRequest, parseClaimsParameter, requestedValues, type ClaimsRequest } from '../../protocol/claims-request.js';
import type { StoredClient } from '../../storage/client-repository.js';
import { redirectError } from './errors.js';
import type { AuthorizationParams } from './request.js';

/**
 * The checks of the `claims` and `acr_values` parameters (OpenID Connect Core §5.5, §3.1.2.1),
 * run by validateAuthorizationRequest after the others; like them, each answers at the redirect
 * URI.
 */

/** acr_values is a few space-separated URIs; far longer is not a preference list. */
const MAX_ACR_VALUES_LENGTH = 2048;

/**
 * claims: a JSON object of Core §5.5, parsed strictly (claims-request.ts); what is wrong is
 * named in an invalid_request. Undefined when absent or when it asks for nothing known here.
 */
export function checkClaims(params: AuthorizationParams): ClaimsRequest | undefined {
  if (params.claims === undefined) return undefined;
  try {
    const claims = parseClaimsParameter(params.claims);
    return isEmptyClaimsRequest(claims) ? undefined : claims;
  } catch (error) {
    if (error instanceof ClaimsRequestError) throw redirectError('invalid_request', error.message);
    throw error;
  }
}

/**
 * acr_values (else the client's default_acr_values, OIDC Registration §2): the classes the client
 * would accept, in order of preference. This server announces the ones it achieves
 * (acr_values_supported) and accepts requests for those only, as it does scopes: a list naming
 * none of them is a client error, invalid_request, rather than an ID token whose `acr` the client
 * said it would not take.
 */
export function checkAcrValues(params: AuthorizationParams, client: StoredClient): void {
  const defaults = client.metadata.default_acr_values;
  const raw = params.acr_values ?? (Array.isArray(defaults) ? defaults.join(' ') : undefined);
  if (raw === undefined) return;
  if (raw.length > MAX_ACR_VALUES_LENGTH) throw redirectError('invalid_request', `acr_values is longer than ${MAX_ACR_VALUES_LENGTH} characters`);
  const requested = raw.split(' ').filter((value) => value !== '');
  if (requested.length === 0 || requested.some(isSupportedAcr)) return;
  throw redirectError('invalid_request', `acr_values ${requested.join(' ').slice(0, 200)} names no class this server achieves (acr_values_supported: ${ACR_VALUES_SUPPORTED.join(' ')})`);
}

/**
 * An essential `acr` claim with values (Core §5.5.1.1) is a requirement, not a preference: when
 * this server can meet none of them, Core says to treat the request as a failed authentication,
 * so the answer is access_denied, before anyone signs in for nothing. A voluntary one (or an
 * essential one without values) is met by whatever class the sign-in achieves.
 */
export function checkEssentialAcr(claims: ClaimsRequest | undefined): void {
  if (claims?.id_token?.acr?.essential !== true) return;
  const wanted = requestedValues(claims, 'id_token', 'acr');
  if (wanted === undefined || wanted.some(isSupportedAcr)) return;
  throw redirectError('access_denied', `the essential acr claim asks for a class this server cannot achieve (acr_values_supported: ${ACR_VALUES_SUPPORTED.join(' ')})`);
}
