import type { ActiveSession } from '../sessions.js';
import type { ValidatedAuthorizationRequest } from './request.js';

/**
 * What a valid authorization request needs before a code can be issued (OIDC Core §3.1.2.3):
 *  - login: nobody is signed in, or prompt=login / max_age ask for a sign-in newer than the one
 *    there is. A sign-in made after the request arrived satisfies both (no loop).
 *  - consent: prompt=consent, or the user never granted this client every requested scope.
 * With prompt=none neither may be shown: the caller answers login_required / consent_required.
 */
export type Interaction = { needs: 'login'; reauthenticate: boolean } | { needs: 'consent' } | { needs: 'nothing' };

export function requiredInteraction(
  request: ValidatedAuthorizationRequest,
  session: ActiveSession | undefined,
  grantedScope: readonly string[] | undefined,
  consentGivenForThisRequest: boolean,
  now: number,
): Interaction {
  if (session === undefined) return { needs: 'login', reauthenticate: false };
  const signedInSinceRequest = session.authTime >= request.receivedAt;
  const tooOld = request.maxAge !== undefined && now - session.authTime > request.maxAge;
  if ((request.prompt.includes('login') || tooOld) && !signedInSinceRequest) return { needs: 'login', reauthenticate: true };
  if (consentGivenForThisRequest) return { needs: 'nothing' };
  if (request.prompt.includes('consent')) return { needs: 'consent' };
  const granted = new Set(grantedScope ?? []);
  if (grantedScope === undefined || !request.scope.every((s) => granted.has(s))) return { needs: 'consent' };
  return { needs: 'nothing' };
}
