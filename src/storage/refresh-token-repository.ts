import { claimsRequestFromJson, claimsRequestToJson, type ClaimsRequest } from '../protocol/claims-request.js';
import type { Queryable } from './database.js';

/**
 * One authorization a refresh token family carries on (migration 0012): what was granted and how
 * the user signed in, repeated by every refresh.
 */
export interface RefreshTokenFamily {
  id: string;
  clientId: string;
  userId: string;
  /** The scope granted, space-separated: a refresh may ask for less, never more. */
  scope: string;
  /** The resources (RFC 8707) granted: a refresh may ask for fewer. */
  resources: readonly string[];
  sid: string;
  authTime: number;
  amr: readonly string[];
  authTimeRequired: boolean;
  /** The authorization request's claims parameter (OIDC Core §5.5); absent when it asked for none. */
  claims?: ClaimsRequest;
  /** The hash of the authorization code the family came from: a replay of that code revokes it. */
  codeHash: Buffer | null;
  createdAt: number;
  /** The absolute end (REFRESH_TOKEN_MAX_AGE after the sign-in). */
  expiresAt: number;
  revokedAt: number | null;
}

/** One refresh token of a family, as issued: with the access token issued beside it. */
export interface IssuedRefreshToken {
  tokenHash: Buffer;
  createdAt: number;
  /** The idle end: REFRESH_TOKEN_LIFETIME after issue, never past the family's end. */
  expiresAt: number;
  accessTokenJti: string;
  accessTokenExpiresAt: number;
}

export interface FoundRefreshToken extends IssuedRefreshToken {
  /** When it was exchanged for the next one (rotated); null while it is the family's current one. */
  usedAt: number | null;
  family: RefreshTokenFamily;
}

type FoundRow = {
  token_hash: Uint8Array; created_at: number | string; expires_at: number | string; used_at: number | string | null;
  access_token_jti: string; access_token_expires_at: number | string;
  family_id: string; client_id: string; user_id: string; scope: string; resources: string[]; sid: string; auth_time: number | string;
  amr: string[]; auth_time_required: boolean; claims: unknown; code_hash: Uint8Array | null; family_created_at: number | string;
  family_expires_at: number | string; revoked_at: number | string | null;
};

const orNull = (value: number | string | null) => (value === null ? null : Number(value));

const toFound = (row: FoundRow): FoundRefreshToken => ({
  tokenHash: Buffer.from(row.token_hash),
  createdAt: Number(row.created_at),
  expiresAt: Number(row.expires_at),
  usedAt: orNull(row.used_at),
  accessTokenJti: row.access_token_jti,
  accessTokenExpiresAt: Number(row.access_token_expires_at),
  family: {
    id: row.family_id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: row.scope,
    resources: row.resources,
    sid: row.sid,
    authTime: Number(row.auth_time),
    amr: row.amr,
    authTimeRequired: row.auth_time_required,
    ...(row.claims === null ? {} : { claims: claimsRequestFromJson(row.claims) }),
    codeHash: row.code_hash === null ? null : Buffer.from(row.code_hash),
    createdAt: Number(row.family_created_at),
    expiresAt: Number(row.family_expires_at),
    revokedAt: orNull(row.revoked_at),
  },
});

/** Refresh tokens and their families, shared by every instance; tokens only as SHA-256 hashes. */
export class RefreshTokenRepository {
  constructor(private readonly db: Queryable) {}

  /** A new family with its first token, in one statement. */
  async createFamily(family: Omit<RefreshTokenFamily, 'revokedAt'>, first: IssuedRefreshToken): Promise<void> {
    await this.db.query(
      `WITH family AS (
         INSERT INTO refresh_token_families (id, client_id, user_id, scope, resources, sid, auth_time, amr, auth_time_required, code_hash, created_at, expires_at, claims)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $18::jsonb) RETURNING id
       )
       INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at, access_token_jti, access_token_expires_at)
       SELECT $13, id, $14, $15, $16, $17 FROM family`,
      [family.id, family.clientId, family.userId, family.scope, [...family.resources], family.sid, family.authTime, [...family.amr], family.authTimeRequired,
        family.codeHash, family.createdAt, family.expiresAt,
        first.tokenHash, first.createdAt, first.expiresAt, first.accessTokenJti, first.accessTokenExpiresAt,
        family.claims === undefined ? null : claimsRequestToJson(family.claims)],
    );
  }

  async find(tokenHash: Buffer): Promise<FoundRefreshToken | undefined> {
    const rows = await this.db.query<FoundRow>(
      `SELECT t.token_hash, t.created_at, t.expires_at, t.used_at, t.access_token_jti, t.access_token_expires_at,
              f.id AS family_id, f.client_id, f.user_id, f.scope, f.resources, f.sid, f.auth_time, f.amr, f.auth_time_required,
              f.claims, f.code_hash, f.created_at AS family_created_at, f.expires_at AS family_expires_at, f.revoked_at
       FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id
       WHERE t.token_hash = $1`,
      [tokenHash],
    );
    return rows[0] && toFound(rows[0]);
  }

  /**
   * Rotates, atomically: marks `usedHash` used and adds `next` to its family, if and only if the
   * token is unused and unexpired and its family neither revoked nor expired. Of concurrent uses
   * of one token exactly one gets true. The statement writes the family row first, so a rotation
   * and a revocation of the family (which writes it too) wait for each other: a token added by a
   * rotation is never missed by a revocation that overlaps it.
   */
  async rotate(usedHash: Buffer, familyId: string, next: IssuedRefreshToken, now: number): Promise<boolean> {
    const rows = await this.db.query(
      `WITH family AS (
         UPDATE refresh_token_families SET rotated_at = $3
         WHERE id = $2 AND revoked_at IS NULL AND expires_at > $3 RETURNING id
       ), used AS (
         UPDATE refresh_tokens SET used_at = $3
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $3 AND family_id IN (SELECT id FROM family) RETURNING family_id
       )
       INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at, access_token_jti, access_token_expires_at)
       SELECT $4, family_id, $5, $6, $7, $8 FROM used RETURNING family_id`,
      [usedHash, familyId, now, next.tokenHash, next.createdAt, next.expiresAt, next.accessTokenJti, next.accessTokenExpiresAt],
    );
    return rows.length > 0;
  }

  /** Revokes one family (rotated token reused, RFC 7009); see revokeWhere. */
  revokeFamily(familyId: string, now: number): Promise<number> {
    return this.revokeWhere('id = $2', [familyId], now);
  }

  /** Revokes the families a user's authorizations of a client started (the operator revoked the consent). */
  revokeForUserAndClient(userId: string, clientId: string, now: number): Promise<number> {
    return this.revokeWhere('user_id = $2 AND client_id = $3', [userId, clientId], now);
  }

  /** Revokes the families an authorization code started (the code was used again). */
  revokeForCode(codeHash: Buffer, now: number): Promise<number> {
    return this.revokeWhere('code_hash = $2', [codeHash], now);
  }

  /**
   * Revokes families, and with them the access tokens they issued that have not expired yet: their
   * jti go into revoked_tokens (RFC 7009 §2: reference tokens are checked there too). Two
   * statements, on purpose: the second reads the tokens after the first has waited for any
   * rotation in flight (rotate), so it sees the token and access token that rotation added.
   * Returns how many families it found.
   */
  private async revokeWhere(condition: string, params: readonly unknown[], now: number): Promise<number> {
    const families = await this.db.query<{ id: string }>(
      `UPDATE refresh_token_families SET revoked_at = COALESCE(revoked_at, $1) WHERE ${condition} RETURNING id`,
      [now, ...params],
    );
    if (families.length === 0) return 0;
    await this.db.query(
      `INSERT INTO revoked_tokens (jti, client_id, expires_at)
       SELECT t.access_token_jti, f.client_id, t.access_token_expires_at
       FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id
       WHERE t.family_id = ANY($1) AND t.access_token_expires_at > $2
       ON CONFLICT (jti) DO NOTHING`,
      [families.map((f) => f.id), now],
    );
    return families.length;
  }

  /**
   * Deletes what can no longer be used or revoke anything: tokens past their idle end whose access
   * token has expired too (a used one is kept until then, to recognise its reuse), and families
   * revoked (their access tokens are in revoked_tokens already) or past their end with no access
   * token still running. Deleting a family deletes its tokens.
   */
  async purgeExpired(now: number): Promise<number> {
    const tokens = await this.db.query(
      'DELETE FROM refresh_tokens WHERE expires_at <= $1 AND access_token_expires_at <= $1 RETURNING family_id',
      [now],
    );
    const families = await this.db.query(
      `DELETE FROM refresh_token_families f
       WHERE (f.revoked_at IS NOT NULL OR f.expires_at <= $1)
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id AND t.access_token_expires_at > $1 AND f.revoked_at IS NULL)
       RETURNING id`,
      [now],
    );
    return tokens.length + families.length;
  }
}
