import { OAuthError } from '../http/oauth-error.js';

/**
 * Resource indicators (RFC 8707): the `resource` parameters of a request name the resource servers
 * the access token is for, and become its `aud`. Only resources the operator configured
 * (RESOURCE_INDICATORS) may be named, compared as strings; MCP clients name their server this way.
 */

/** Longest resource value considered: a configured one is never near it. */
const MAX_RESOURCE_LENGTH = 2048;

const shown = (resource: string) => resource.slice(0, 100);

/**
 * Why the resources a request names cannot be granted, or undefined: each must be one of
 * `configured` (which are absolute URIs without a fragment, RFC 8707 §2). The caller answers
 * invalid_target in its own way (a redirect at /authorize, a 400 at the token endpoint).
 */
export function unconfiguredResourceProblem(requested: readonly string[], configured: readonly string[]): string | undefined {
  for (const resource of requested) {
    if (resource.length > MAX_RESOURCE_LENGTH || !configured.includes(resource)) {
      return configured.length === 0
        ? 'this server accepts no resource parameter (none is configured)'
        : `resource ${shown(resource)} is not one this server issues tokens for`;
    }
  }
  return undefined;
}

/** The distinct resources of a request, in the order sent. */
export const distinctResources = (values: readonly string[]): string[] => [...new Set(values)];

/**
 * The resources of a token request (RFC 8707 §2.2): a subset of those granted (by the authorization
 * request, kept with the code or refresh token); none named means all granted. 400 invalid_target
 * otherwise.
 */
export function narrowedResources(requested: readonly string[], granted: readonly string[]): string[] {
  const distinct = distinctResources(requested);
  if (distinct.length === 0) return [...granted];
  const refused = distinct.find((resource) => !granted.includes(resource));
  if (refused !== undefined) {
    throw new OAuthError('invalid_target', granted.length === 0
      ? 'resource was not named in the authorization request, so it cannot be asked for here'
      : `resource ${shown(refused)} was not granted; ask for one of: ${granted.map(shown).join(' ')}`);
  }
  return distinct;
}

/** The resources of a client_credentials request: each configured (RFC 8707 §2), else 400 invalid_target. */
export function configuredResources(requested: readonly string[], configured: readonly string[]): string[] {
  const problem = unconfiguredResourceProblem(requested, configured);
  if (problem !== undefined) throw new OAuthError('invalid_target', problem);
  return distinctResources(requested);
}

/** The `aud` of an access token for these resources: one as a string, several as an array, none: the default. */
export function audienceOf(resources: readonly string[]): string | string[] | undefined {
  if (resources.length === 0) return undefined;
  return resources.length === 1 ? resources[0] : [...resources];
}
