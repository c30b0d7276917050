/** Every endpoint's path under the issuer: routes, discovery and response URIs all read these. */
export const ENDPOINT_PATHS = {
  authorization: '/authorize',
  registration: '/register',
  token: '/token',
  userinfo: '/userinfo',
  introspection: '/introspect',
  revocation: '/revoke',
  jwks: '/jwks',
  /** RP-Initiated Logout 1.0: the sign-out page's own path (src/pages/templates.ts PAGE_PATHS.logout). */
  endSession: '/logout',
} as const;

/** The absolute URL of every endpoint, as discovery announces them. */
export function endpointUrls(issuer: string) {
  return {
    authorization_endpoint: `${issuer}${ENDPOINT_PATHS.authorization}`,
    registration_endpoint: `${issuer}${ENDPOINT_PATHS.registration}`,
    token_endpoint: `${issuer}${ENDPOINT_PATHS.token}`,
    userinfo_endpoint: `${issuer}${ENDPOINT_PATHS.userinfo}`,
    introspection_endpoint: `${issuer}${ENDPOINT_PATHS.introspection}`,
    revocation_endpoint: `${issuer}${ENDPOINT_PATHS.revocation}`,
    jwks_uri: `${issuer}${ENDPOINT_PATHS.jwks}`,
    end_session_endpoint: `${issuer}${ENDPOINT_PATHS.endSession}`,
  } as const;
}

export type EndpointUrls = ReturnType<typeof endpointUrls>;
