import type { Queryable } from './database.js';

/** A browser session as stored (migrations 0009, 0011); times in seconds since the epoch. */
export interface StoredSession {
  idHash: Buffer;
  /** The session's public identifier: the `sid` claim of its ID tokens; unrelated to the cookie. */
  sid: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  authTime: number;
  amr: readonly string[];
  expiresAt: number;
}

type SessionRow = {
  id_hash: Uint8Array;
  sid: string;
  user_id: string;
  created_at: number | string;
  last_seen_at: number | string;
  auth_time: number | string;
  amr: string[];
  expires_at: number | string;
};

const toSession = (row: SessionRow): StoredSession => ({
  idHash: Buffer.from(row.id_hash),
  sid: row.sid,
  userId: row.user_id,
  createdAt: Number(row.created_at),
  lastSeenAt: Number(row.last_seen_at),
  authTime: Number(row.auth_time),
  amr: row.amr,
  expiresAt: Number(row.expires_at),
});

/** Browser sessions, shared by every instance; keyed by the hash of the cookie value. */
export class SessionRepository {
  constructor(private readonly db: Queryable) {}

  async insert(session: StoredSession): Promise<void> {
    await this.db.query(
      `INSERT INTO sessions (id_hash, sid, user_id, created_at, last_seen_at, auth_time, amr, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [session.idHash, session.sid, session.userId, session.createdAt, session.lastSeenAt, session.authTime, [...session.amr], session.expiresAt],
    );
  }

  async find(idHash: Buffer): Promise<StoredSession | undefined> {
    const rows = await this.db.query<SessionRow>('SELECT * FROM sessions WHERE id_hash = $1', [idHash]);
    return rows[0] && toSession(rows[0]);
  }

  /** Marks the session seen at `now`, unless another request already did within `resolution` seconds. */
  async touch(idHash: Buffer, now: number, resolution: number): Promise<void> {
    await this.db.query('UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at <= $3', [idHash, now, now - resolution]);
  }

  /** Ends one session; true when it existed. */
  async delete(idHash: Buffer): Promise<boolean> {
    return (await this.db.query('DELETE FROM sessions WHERE id_hash = $1 RETURNING user_id', [idHash])).length > 0;
  }

  /** Ends every session of a user (disabled, deleted, password changed). */
  async deleteForUser(userId: string): Promise<number> {
    return (await this.db.query('DELETE FROM sessions WHERE user_id = $1 RETURNING user_id', [userId])).length;
  }

  /** Deletes sessions past their absolute or idle end; from the purge timer, never per request. */
  async purgeExpired(now: number, idleTimeoutSeconds: number): Promise<number> {
    const rows = await this.db.query('DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2 RETURNING user_id', [now, now - idleTimeoutSeconds]);
    return rows.length;
  }
}
