import type { Config } from '../config/config.js';
import type { EndpointUrls } from '../http/endpoints.js';
import { CONTENT_ENCRYPTION_ALGS, KEY_MANAGEMENT_ALGS, SIGNING_ALGS } from '../protocol/algorithms.js';
import {
  CLAIMS_SUPPORTED,
  GRANT_TYPES,
  RESPONSE_TYPES,
  SUBJECT_TYPES,
  TOKEN_ENDPOINT_AUTH_METHODS,
} from '../protocol/client-metadata-values.js';
import { CODE_CHALLENGE_METHODS, RESPONSE_MODES } from '../authorization/authorize/request.js';
import { ACR_VALUES_SUPPORTED } from '../protocol/acr.js';
import { UI_LOCALES_SUPPORTED } from '../protocol/ui-locales.js';

const AUTHENTICATING_METHODS = TOKEN_ENDPOINT_AUTH_METHODS.filter((method) => method !== 'none');

/**
 * OpenID Connect Discovery 1.0 §3 / RFC 8414 §2 metadata, built once from the constants that
 * registration validates against. Only endpoints that exist are announced: the authorization,
 * userinfo and end-session endpoints are served here. What the server signs with is what it holds keys
 * for (SIGNING_KEY_ALGS, which registration checks too); request objects are not accepted
 * (request_parameter_supported false), so no request_object_* algorithms are announced.
 */
export function buildProviderMetadata(
  config: Pick<Config, 'issuer' | 'scopesSupported' | 'serviceDocumentation'> & { signingKeys: Pick<Config['signingKeys'], 'algs'> },
  endpoints: Omit<EndpointUrls, 'registration_endpoint'> & Partial<Pick<EndpointUrls, 'registration_endpoint'>>,
): Readonly<Record<string, unknown>> {
  return Object.freeze({
    issuer: config.issuer,
    ...endpoints,
    scopes_supported: config.scopesSupported,
    response_types_supported: RESPONSE_TYPES,
    response_modes_supported: RESPONSE_MODES,
    grant_types_supported: GRANT_TYPES,
    code_challenge_methods_supported: CODE_CHALLENGE_METHODS,
    // RFC 9207: every authorization response carries iss
    authorization_response_iss_parameter_supported: true,
    subject_types_supported: SUBJECT_TYPES,
    token_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS,
    // a public client has no token to introspect or revoke here: authenticated methods only
    introspection_endpoint_auth_methods_supported: AUTHENTICATING_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS,
    revocation_endpoint_auth_methods_supported: AUTHENTICATING_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS,
    id_token_signing_alg_values_supported: config.signingKeys.algs,
    id_token_encryption_alg_values_supported: KEY_MANAGEMENT_ALGS,
    id_token_encryption_enc_values_supported: CONTENT_ENCRYPTION_ALGS,
    userinfo_signing_alg_values_supported: config.signingKeys.algs,
    userinfo_encryption_alg_values_supported: KEY_MANAGEMENT_ALGS,
    userinfo_encryption_enc_values_supported: CONTENT_ENCRYPTION_ALGS,
    claims_supported: CLAIMS_SUPPORTED,
    // OIDC Core §5.5: id_token and userinfo members (claims_locales_supported is not announced: claims have one language)
    claims_parameter_supported: true,
    acr_values_supported: ACR_VALUES_SUPPORTED,
    ui_locales_supported: UI_LOCALES_SUPPORTED,
    request_parameter_supported: false,
    // OIDC Discovery defaults this to true; /authorize answers request_uri_not_supported.
    request_uri_parameter_supported: false,
    ...(config.serviceDocumentation !== undefined ? { service_documentation: config.serviceDocumentation } : {}),
  });
}
