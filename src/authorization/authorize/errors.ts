/**
 * The two ways an authorization request fails (RFC 6749 §4.1.2.1). Until the client and its
 * redirect URI are known to be good, nothing may be sent to the redirect URI: the user sees a
 * page (AuthorizationPageError). After that, the error goes back to the client
 * (AuthorizationRedirectError), with `state` and `iss`.
 */

/** Error codes of authorization responses (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 8707 §2). */
export const AUTHORIZATION_ERRORS = [
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'invalid_target',
  'server_error',
  'temporarily_unavailable',
  'interaction_required',
  'login_required',
  'consent_required',
  'request_not_supported',
  'request_uri_not_supported',
] as const;
export type AuthorizationErrorCode = (typeof AUTHORIZATION_ERRORS)[number];

/** The client or redirect URI cannot be trusted: shown to the user, never redirected. */
export class AuthorizationPageError extends Error {
  constructor(readonly title: string, message: string, readonly logReason: string) {
    super(message);
    this.name = 'AuthorizationPageError';
  }
}

/** Where errors go once client and redirect URI are good: the redirect URI, with state and mode. */
export interface ErrorTarget {
  redirectUri: string;
  responseMode: 'query' | 'form_post';
  state?: string;
}

/** An error the client hears about at its redirect URI (set by the checks once it is known). */
export class AuthorizationRedirectError extends Error {
  target: ErrorTarget | undefined;

  constructor(readonly code: AuthorizationErrorCode, description: string) {
    // RFC 6749 §4.1.2.1: error_description is printable ASCII without " and \
    super(description.replace(/"/g, "'").replace(/\\/g, '/').replace(/[^\x20-\x7e]/g, '?'));
    this.name = 'AuthorizationRedirectError';
  }
}

export const redirectError = (code: AuthorizationErrorCode, description: string) => new AuthorizationRedirectError(code, description);
