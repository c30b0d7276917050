import { claimsRequestFromJson, claimsRequestToJson, type ClaimsRequest } from '../protocol/claims-request.js';
import type { Queryable } from './database.js';

/** A validated authorization request waiting for the user (migration 0010). */
export interface StoredAuthorizationRequest {
  idHash: Buffer;
  clientId: string;
  /** The validated request, as src/authorization/authorize/request.ts shapes it. */
  request: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
}

export interface StoredAuthorizationCode {
  codeHash: Buffer;
  clientId: string;
  userId: string;
  redirectUri: string;
  /** Whether the authorization request named the redirect URI (RFC 6749 §4.1.3: then the token request must too). */
  redirectUriGiven: boolean;
  codeChallenge: string | null;
  scope: string;
  /** The resources (RFC 8707) the request named: what the token request may narrow (migration 0012); none when absent. */
  resources?: readonly string[];
  nonce: string | null;
  sid: string;
  authTime: number;
  amr: readonly string[];
  /** max_age was sent, or the client registered require_auth_time: the ID token carries auth_time. */
  authTimeRequired: boolean;
  /** The request's claims parameter (OIDC Core §5.5, migration 0013); absent when it asked for none. */
  claims?: ClaimsRequest;
  createdAt: number;
  expiresAt: number;
}

export interface UsedAuthorizationCode extends StoredAuthorizationCode {
  resources: readonly string[];
  usedAt: number | null;
  accessTokenJti: string | null;
  accessTokenExpiresAt: number | null;
}

type CodeRow = {
  code_hash: Uint8Array; client_id: string; user_id: string; redirect_uri: string; redirect_uri_given: boolean;
  code_challenge: string | null; scope: string; resources: string[]; nonce: string | null; sid: string; auth_time: number | string;
  amr: string[]; auth_time_required: boolean; claims: unknown; created_at: number | string; expires_at: number | string;
  used_at: number | string | null; access_token_jti: string | null; access_token_expires_at: number | string | null;
};

const orNull = (value: number | string | null) => (value === null ? null : Number(value));

const toCode = (row: CodeRow): UsedAuthorizationCode => ({
  codeHash: Buffer.from(row.code_hash),
  clientId: row.client_id,
  userId: row.user_id,
  redirectUri: row.redirect_uri,
  redirectUriGiven: row.redirect_uri_given,
  codeChallenge: row.code_challenge,
  scope: row.scope,
  resources: row.resources,
  nonce: row.nonce,
  sid: row.sid,
  authTime: Number(row.auth_time),
  amr: row.amr,
  authTimeRequired: row.auth_time_required,
  ...(row.claims === null ? {} : { claims: claimsRequestFromJson(row.claims) }),
  createdAt: Number(row.created_at),
  expiresAt: Number(row.expires_at),
  usedAt: orNull(row.used_at),
  accessTokenJti: row.access_token_jti,
  accessTokenExpiresAt: orNull(row.access_token_expires_at),
});

/** Pending authorization requests and authorization codes, shared by every instance. */
export class AuthorizationRepository {
  constructor(private readonly db: Queryable) {}

  async insertRequest(request: StoredAuthorizationRequest): Promise<void> {
    await this.db.query(
      'INSERT INTO authorization_requests (id_hash, client_id, request, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [request.idHash, request.clientId, JSON.stringify(request.request), request.createdAt, request.expiresAt],
    );
  }

  async findRequest(idHash: Buffer, now: number): Promise<StoredAuthorizationRequest | undefined> {
    const rows = await this.db.query<{ id_hash: Uint8Array; client_id: string; request: Record<string, unknown>; created_at: number | string; expires_at: number | string }>(
      'SELECT * FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2',
      [idHash, now],
    );
    const row = rows[0];
    return row && { idHash: Buffer.from(row.id_hash), clientId: row.client_id, request: row.request, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) };
  }

  async deleteRequest(idHash: Buffer): Promise<boolean> {
    return (await this.db.query('DELETE FROM authorization_requests WHERE id_hash = $1 RETURNING client_id', [idHash])).length > 0;
  }

  async insertCode(code: StoredAuthorizationCode): Promise<void> {
    await this.db.query(
      `INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_given, code_challenge, scope, nonce, sid,
         auth_time, amr, auth_time_required, claims, created_at, expires_at, resources)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16)`,
      [code.codeHash, code.clientId, code.userId, code.redirectUri, code.redirectUriGiven, code.codeChallenge, code.scope, code.nonce, code.sid,
        code.authTime, [...code.amr], code.authTimeRequired, code.claims === undefined ? null : claimsRequestToJson(code.claims), code.createdAt, code.expiresAt, [...(code.resources ?? [])]],
    );
  }

  async findCode(codeHash: Buffer): Promise<UsedAuthorizationCode | undefined> {
    const rows = await this.db.query<CodeRow>('SELECT * FROM authorization_codes WHERE code_hash = $1', [codeHash]);
    return rows[0] && toCode(rows[0]);
  }

  /**
   * Uses a code, atomically: of concurrent uses exactly one gets true, and records the jti of the
   * access token it will issue, so that any later use can revoke that token.
   */
  async useCode(codeHash: Buffer, now: number, jti: string, jtiExpiresAt: number): Promise<boolean> {
    const used = await this.db.query(
      `UPDATE authorization_codes SET used_at = $2, access_token_jti = $3, access_token_expires_at = $4
       WHERE code_hash = $1 AND used_at IS NULL RETURNING client_id`,
      [codeHash, now, jti, jtiExpiresAt],
    );
    return used.length > 0;
  }

  /**
   * Deletes expired pending requests, and codes once nothing can come of them: a used code is kept
   * until the access token it issued expires, so that a late replay still revokes it.
   */
  async purgeExpired(now: number): Promise<number> {
    const requests = await this.db.query('DELETE FROM authorization_requests WHERE expires_at <= $1 RETURNING client_id', [now]);
    const codes = await this.db.query(
      'DELETE FROM authorization_codes WHERE expires_at <= $1 AND (access_token_expires_at IS NULL OR access_token_expires_at <= $1) RETURNING client_id',
      [now],
    );
    return requests.length + codes.length;
  }
}

/** Consent a user gave a client: the scopes granted, remembered (migration 0010). */
export interface StoredConsent {
  userId: string;
  clientId: string;
  scope: string;
  /** Claims granted beyond the scopes (a claims request, migration 0013): space-separated, sorted; '' or absent for none. */
  claims?: string;
  grantedAt: number;
}

type ConsentRow = { user_id: string; client_id: string; scope: string; claims: string; granted_at: number | string };
const toConsent = (row: ConsentRow): StoredConsent => ({ userId: row.user_id, clientId: row.client_id, scope: row.scope, claims: row.claims, grantedAt: Number(row.granted_at) });

export class ConsentRepository {
  constructor(private readonly db: Queryable) {}

  async find(userId: string, clientId: string): Promise<StoredConsent | undefined> {
    const rows = await this.db.query<ConsentRow>('SELECT * FROM consents WHERE user_id = $1 AND client_id = $2', [userId, clientId]);
    return rows[0] && toConsent(rows[0]);
  }

  /** Records consent to `scope` and `claims` (space-separated, sorted), replacing what was granted before. */
  async grant(consent: StoredConsent): Promise<void> {
    await this.db.query(
      `INSERT INTO consents (user_id, client_id, scope, claims, granted_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_id, client_id) DO UPDATE SET scope = EXCLUDED.scope, claims = EXCLUDED.claims, granted_at = EXCLUDED.granted_at`,
      [consent.userId, consent.clientId, consent.scope, consent.claims ?? '', consent.grantedAt],
    );
  }

  async listForUser(userId: string): Promise<StoredConsent[]> {
    const rows = await this.db.query<ConsentRow>('SELECT * FROM consents WHERE user_id = $1 ORDER BY granted_at DESC, client_id', [userId]);
    return rows.map(toConsent);
  }

  async revoke(userId: string, clientId: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM consents WHERE user_id = $1 AND client_id = $2 RETURNING client_id', [userId, clientId])).length > 0;
  }
}
