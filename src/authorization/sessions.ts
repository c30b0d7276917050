import { hashToken } from '../crypto/token-hash.js';
import { randomToken } from '../crypto/random.js';
import type { SessionRepository, StoredSession } from '../storage/session-repository.js';

/** last_seen_at is written at most this often per session: one UPDATE a minute, not one per page. */
export const LAST_SEEN_RESOLUTION_SECONDS = 60;

export interface SessionPolicy {
  idleTimeoutSeconds: number;
  maxAgeSeconds: number;
}

/** The account a session belongs to, as far as sessions care: gone or disabled ends the session. */
export interface SessionUser {
  id: string;
  username: string;
  disabled: boolean;
}

export interface SessionDeps {
  sessions: SessionRepository;
  /** Looks the session's user up on every use: a disabled or deleted user is signed out at once. */
  findUser: (id: string) => Promise<SessionUser | undefined>;
  policy: SessionPolicy;
  now: () => number;
}

/** A session in use: what pages (and later /authorize) need to know about the signed-in user. */
export interface ActiveSession {
  idHash: Buffer;
  /**
   * The session's public identifier, for the `sid` claim of ID tokens (and logout hints): random,
   * independent of the cookie; the cookie value and its hash never appear in a token.
   */
  sid: string;
  user: SessionUser;
  authTime: number;
  amr: readonly string[];
}

/** Starts a session for a user who has just signed in; returns the cookie value (never stored). */
export async function startSession(deps: SessionDeps, userId: string, amr: readonly string[]): Promise<string> {
  const cookieValue = randomToken(256);
  const now = deps.now();
  await deps.sessions.insert({
    idHash: hashToken(cookieValue),
    sid: randomToken(128),
    userId,
    createdAt: now,
    lastSeenAt: now,
    authTime: now,
    amr,
    expiresAt: now + deps.policy.maxAgeSeconds,
  });
  return cookieValue;
}

/** Why a stored session no longer counts; it is deleted then, not left for the purge. */
function endedBecause(session: StoredSession, now: number, policy: SessionPolicy): string | undefined {
  if (now >= session.expiresAt) return 'max_age';
  if (now >= session.lastSeenAt + policy.idleTimeoutSeconds) return 'idle';
  return undefined;
}

/**
 * The session a cookie value names, if it is still alive and its user may still sign in. Using
 * it counts as activity (written at most once a minute).
 */
export async function resumeSession(deps: SessionDeps, cookieValue: string | undefined): Promise<ActiveSession | undefined> {
  if (cookieValue === undefined || cookieValue.length > 128) return undefined;
  const idHash = hashToken(cookieValue);
  const stored = await deps.sessions.find(idHash);
  if (stored === undefined) return undefined;
  const now = deps.now();
  if (endedBecause(stored, now, deps.policy) !== undefined) {
    await deps.sessions.delete(idHash);
    return undefined;
  }
  const user = await deps.findUser(stored.userId);
  if (user === undefined || user.disabled) {
    await deps.sessions.deleteForUser(stored.userId);
    return undefined;
  }
  if (now - stored.lastSeenAt >= LAST_SEEN_RESOLUTION_SECONDS) await deps.sessions.touch(idHash, now, LAST_SEEN_RESOLUTION_SECONDS);
  return { idHash, sid: stored.sid, user, authTime: stored.authTime, amr: stored.amr };
}

/** Ends the session a cookie names, on every instance (they all read the same table). */
export async function endSession(deps: SessionDeps, cookieValue: string | undefined): Promise<boolean> {
  if (cookieValue === undefined || cookieValue.length > 128) return false;
  return deps.sessions.delete(hashToken(cookieValue));
}
