import { CLAIMS_REQUEST_MEMBERS, requestedClaimNames, requestedValues, type ClaimsRequest } from '../../protocol/claims-request.js';
import { claimsOfScopes, USER_RELEASABLE_CLAIMS } from '../../users/scope-claims.js';
import type { ActiveSession } from '../sessions.js';
import type { Interaction } from './interaction.js';
import type { ValidatedAuthorizationRequest } from './request.js';

/**
 * What a claims request (OIDC Core §5.5) adds to the interactions of requiredInteraction: a
 * requested subject must be the one signed in, and claims beyond the scopes need consent.
 */

/** Nobody may be given a code for this request: the user signed in for it is not the one it names. */
export type ClaimsInteraction = Interaction | { needs: 'other_user' };

/**
 * The user's claims the request asks for by name that its scopes do not give: the consent page
 * lists them, and consent to them is remembered with consent to scopes.
 */
export function claimsBeyondScope(request: Pick<ValidatedAuthorizationRequest, 'scope' | 'claims'>): string[] {
  // without openid there is no ID token and no UserInfo answer: nothing to release
  if (!request.scope.includes('openid')) return [];
  const covered = claimsOfScopes(request.scope);
  const asked = new Set(CLAIMS_REQUEST_MEMBERS.flatMap((member) => requestedClaimNames(request.claims, member)));
  return [...asked].filter((name) => USER_RELEASABLE_CLAIMS.includes(name) && !covered.has(name)).sort();
}

/** Whether the request names its subject: a `sub` asked for with a value, in either member. */
export function namesSubject(claims: ClaimsRequest | undefined): boolean {
  return CLAIMS_REQUEST_MEMBERS.some((member) => requestedValues(claims, member, 'sub') !== undefined);
}

/**
 * Whether the user the client knows as `subject` (its sub for the user: the user id, or the
 * pairwise one) may be the subject of the answer: a `sub` asked for with a value (in either
 * member) names the only user(s) it may be (Core §3.1.2.2, §5.5.1).
 */
export function subjectAllowed(claims: ClaimsRequest | undefined, subject: string): boolean {
  return CLAIMS_REQUEST_MEMBERS.every((member) => {
    const wanted = requestedValues(claims, member, 'sub');
    return wanted === undefined || wanted.includes(subject);
  });
}

/**
 * The interaction requiredInteraction chose, with the claims request's rules on top:
 *  - `sub` with a value that is not the signed-in user: Core §3.1.2.2 allows a positive answer
 *    only when that user has a session or signs in for this request, and never one about another
 *    user. So the user is asked to sign in again (as with prompt=login: perhaps the right person
 *    is at the keyboard, signed in as someone else); with prompt=none that is login_required. If
 *    the sign-in made for this request is still someone else, there is no one to answer about:
 *    `other_user`, which the route answers with login_required too.
 *  - claims the scopes do not cover, which the user has not agreed to release: consent.
 */
export function withClaimsRules(
  base: Interaction,
  request: ValidatedAuthorizationRequest,
  session: (ActiveSession & { subject: string }) | undefined,
  granted: { scope: readonly string[]; claims: readonly string[] } | undefined,
  consentGivenForThisRequest: boolean,
): ClaimsInteraction {
  if (session === undefined || base.needs === 'login') return base;
  if (!subjectAllowed(request.claims, session.subject)) {
    return session.authTime >= request.receivedAt ? { needs: 'other_user' } : { needs: 'login', reauthenticate: true };
  }
  if (base.needs !== 'nothing' || consentGivenForThisRequest) return base;
  const released = new Set([...(granted?.claims ?? []), ...claimsOfScopes(granted?.scope ?? [])]);
  return claimsBeyondScope(request).every((name) => released.has(name)) ? base : { needs: 'consent' };
}
