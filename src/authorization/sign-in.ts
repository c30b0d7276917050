import type { RateLimitRepository } from '../storage/rate-limit-repository.js';
import { checkLoginThrottle, recordLoginFailure, type LoginThrottleLimits } from './login-throttle.js';
import { startSession, type SessionDeps, type SessionUser } from './sessions.js';

export interface SignInDeps {
  sessions: SessionDeps;
  /**
   * The account whose username and password these are, when it may sign in; undefined for an
   * unknown user, a wrong password or a disabled account alike (the caller learns nothing more).
   */
  verifyCredentials: (username: string, password: string) => Promise<SessionUser | undefined>;
  throttle: { counters: RateLimitRepository; limits: LoginThrottleLimits };
}

export type SignInResult =
  | { outcome: 'signed_in'; user: SessionUser; cookieValue: string }
  | { outcome: 'throttled'; by: 'account' | 'address'; retryAfterSeconds: number }
  | { outcome: 'invalid_credentials' };

/** Password sign-in: throttled first (no password is checked then), a new session on success. */
export async function signIn(deps: SignInDeps, username: string, password: string, address: string): Promise<SignInResult> {
  const { counters, limits } = deps.throttle;
  const throttled = await checkLoginThrottle(counters, limits, username, address, Date.now());
  if (throttled.refused) return { outcome: 'throttled', by: throttled.by, retryAfterSeconds: throttled.retryAfterSeconds };
  const user = await deps.verifyCredentials(username, password);
  if (user === undefined) {
    await recordLoginFailure(counters, limits, username, address, Date.now());
    return { outcome: 'invalid_credentials' };
  }
  // always a new session id: one planted before sign-in (session fixation) never becomes signed in
  return { outcome: 'signed_in', user, cookieValue: await startSession(deps.sessions, user.id, ['pwd']) };
}
