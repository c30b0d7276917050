/**
 * Every error code the server can answer with, its HTTP status and where it is defined.
 * One table: the error handler, the OpenAPI document and the tests read it.
 */
export const OAUTH_ERRORS = {
  invalid_request: { status: 400, spec: 'RFC 6749 §5.2' },
  invalid_client_metadata: { status: 400, spec: 'RFC 7591 §3.2.2' },
  invalid_redirect_uri: { status: 400, spec: 'RFC 7591 §3.2.2' },
  invalid_software_statement: { status: 400, spec: 'RFC 7591 §3.2.2' },
  unapproved_software_statement: { status: 400, spec: 'RFC 7591 §3.2.2' },
  invalid_token: { status: 401, spec: 'RFC 6750 §3.1' },
  invalid_client: { status: 401, spec: 'RFC 6749 §5.2' },
  insufficient_scope: { status: 403, spec: 'RFC 6750 §3.1' },
  access_denied: { status: 403, spec: 'RFC 6749 §4.1.2.1' },
  unauthorized_client: { status: 400, spec: 'RFC 6749 §5.2' },
  invalid_grant: { status: 400, spec: 'RFC 6749 §5.2' },
  unsupported_grant_type: { status: 400, spec: 'RFC 6749 §5.2' },
  invalid_scope: { status: 400, spec: 'RFC 6749 §5.2' },
  invalid_target: { status: 400, spec: 'RFC 8707 §2' },
  not_found: { status: 404, spec: 'this server' },
  method_not_allowed: { status: 405, spec: 'this server' },
  conflict: { status: 409, spec: 'this server' },
  request_too_large: { status: 413, spec: 'this server' },
  unsupported_media_type: { status: 415, spec: 'this server' },
  too_many_requests: { status: 429, spec: 'this server' },
  server_error: { status: 500, spec: 'RFC 6749 §4.1.2.1' },
  temporarily_unavailable: { status: 503, spec: 'RFC 6749 §4.1.2.1' },
} as const satisfies Record<string, { status: number; spec: string }>;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/**
 * RFC 6749 §5.2 limits error_description to printable ASCII without `"` and `\`. Descriptions
 * quote what the caller sent, so they are folded into that set here, once for every error.
 */
function safeDescription(description: string): string {
  return description.replace(/"/g, "'").replace(/\\/g, '/').replace(/[^\x20-\x7e]/g, '?');
}

/** An error whose code and description are safe to show the caller. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  /** Extra response headers, such as `WWW-Authenticate`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The precise cause, for the server log only, when the caller gets a deliberately vague answer. */
  readonly logReason: string | undefined;

  constructor(code: OAuthErrorCode, description: string, headers: Record<string, string> = {}, logReason?: string) {
    super(safeDescription(description));
    this.name = 'OAuthError';
    this.code = code;
    this.status = OAUTH_ERRORS[code].status;
    this.headers = headers;
    this.logReason = logReason;
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: this.message };
  }
}

export const invalidClientMetadata = (description: string): OAuthError =>
  new OAuthError('invalid_client_metadata', description);

export const invalidRedirectUri = (description: string): OAuthError =>
  new OAuthError('invalid_redirect_uri', description);

export const invalidRequest = (description: string): OAuthError => new OAuthError('invalid_request', description);

const INVALID_TOKEN_DESCRIPTION = 'the access token is missing, malformed, or not valid for this resource';

/**
 * RFC 6750 §3: a Bearer challenge. The description is deliberately the same whether the client
 * exists or not, so the answer does not reveal which client ids are registered. A request that
 * sent no credentials at all gets the challenge without an error code (RFC 6750 §3.1).
 */
export const invalidToken = (credentialsSent = true, logReason?: string): OAuthError =>
  new OAuthError(
    'invalid_token',
    INVALID_TOKEN_DESCRIPTION,
    {
      'www-authenticate': credentialsSent
        ? `Bearer error="invalid_token", error_description="${INVALID_TOKEN_DESCRIPTION}"`
        : 'Bearer',
    },
    logReason,
  );

/** RFC 6750 §3.1: a valid token that lacks the scope the resource needs. */
export const insufficientScope = (scope: string): OAuthError =>
  new OAuthError('insufficient_scope', `this request needs the scope ${scope}`, {
    'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"`,
  });
