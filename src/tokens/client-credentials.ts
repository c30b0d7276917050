import { ADMIN_SCOPE_VALUES, hasAdminScope } from '../admin/scopes.js';
import { parameterValues } from '../http/form-body.js';
import { OAuthError } from '../http/oauth-error.js';
import type { StoredClient } from '../storage/client-repository.js';
import { issueAccessToken, type AccessTokenDeps, type IssuedAccessToken } from './access-tokens.js';
import { audienceOf, configuredResources } from './resource-indicators.js';

/**
 * RFC 6749 §4.4: the client_credentials grant for an authenticated client. The scope asked for
 * must be within the scope the client registered (§3.3); none asked means all registered. Each
 * `resource` (RFC 8707) must be configured, and becomes the token's aud.
 */
export async function clientCredentialsGrant(
  deps: AccessTokenDeps,
  client: StoredClient,
  params: Readonly<Record<string, string>>,
): Promise<IssuedAccessToken> {
  if (!(client.metadata.grant_types as string[]).includes('client_credentials')) {
    throw new OAuthError('unauthorized_client', 'the client is not registered for the client_credentials grant');
  }
  const registered = typeof client.metadata.scope === 'string' ? client.metadata.scope.split(' ') : [];
  let scope: string | undefined;
  if (params.scope !== undefined) {
    const requested = [...new Set(params.scope.split(' ').filter((s) => s !== ''))];
    if (requested.length === 0) throw new OAuthError('invalid_scope', 'scope is empty');
    // admin scopes only for clients an operator made admin, and only when asked for by name
    const admin = requested.filter((s) => ADMIN_SCOPE_VALUES.includes(s));
    if (admin.length > 0 && !client.settings.admin) {
      throw new OAuthError('invalid_scope', `scope ${admin.join(' ')} is granted only to clients an operator has made admin`);
    }
    const refused = requested.filter((s) => !registered.includes(s) && !ADMIN_SCOPE_VALUES.includes(s));
    if (refused.length > 0) throw new OAuthError('invalid_scope', `scope ${refused.join(' ')} is not registered for this client`);
    scope = requested.join(' ');
  } else if (registered.length > 0) {
    scope = registered.join(' ');
  }
  const resources = configuredResources(parameterValues(params, 'resource'), deps.resourceIndicators);
  // admin tokens are for the admin API alone (adminAudience): never for another resource too
  if (resources.length > 0 && hasAdminScope(scope)) throw new OAuthError('invalid_target', 'a token with an admin scope is for the admin API only; ask for it without resource');
  const audience = audienceOf(resources);
  return issueAccessToken(deps, client, scope, audience !== undefined ? { audience } : {});
}
