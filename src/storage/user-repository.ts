import type { Queryable } from './database.js';

/** A user account as stored. `passwordHash` never leaves the server: the admin representation omits it. */
export interface StoredUser {
  id: string;
  username: string;
  passwordHash: string;
  email: string | null;
  emailVerified: boolean;
  /** The other claims of OpenID Connect Core §5.1 (src/users/claims.ts), by name. */
  profile: Record<string, unknown>;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export type NewUser = Omit<StoredUser, 'updatedAt' | 'version' | 'disabled'> & { disabled?: boolean };

/** What a change writes; what it leaves out stays. */
export type UserChange = Partial<Pick<StoredUser, 'username' | 'passwordHash' | 'email' | 'emailVerified' | 'profile' | 'disabled'>>;

/** Filters of the admin list; combined with AND. */
export interface UserFilter {
  /** Text the username, e-mail or name contains, case-insensitively. */
  text?: string;
  disabled?: boolean;
}

/** Position in the newest-first listing: the last row of the previous page. */
export interface UserListPosition {
  createdAt: number;
  id: string;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  email: string | null;
  email_verified: boolean;
  profile: Record<string, unknown>;
  disabled: boolean;
  created_at: string | number;
  updated_at: string | number;
  version: number;
}

const COLUMNS = 'id, username, password_hash, email, email_verified, profile, disabled, created_at, updated_at, version';

/** Advisory locks of usernames: (this class, hash of the lower-cased name). */
const USERNAME_LOCK_CLASS = 7591_0009;

function fromRow(row: UserRow): StoredUser {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    email: row.email,
    emailVerified: row.email_verified,
    profile: row.profile,
    disabled: row.disabled,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    version: Number(row.version),
  };
}

export class UserRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Whether `username` (in any case) is free for the user `exceptId`, holding the name until the
   * transaction ends: two requests that want one name queue here instead of both finding it free.
   */
  async holdUsername(username: string, exceptId: string | null = null): Promise<boolean> {
    await this.db.query('SELECT pg_advisory_xact_lock($1, hashtext(lower($2)))', [USERNAME_LOCK_CLASS, username]);
    const rows = await this.db.query('SELECT id FROM users WHERE lower(username) = lower($1) AND id IS DISTINCT FROM $2', [username, exceptId]);
    return rows.length === 0;
  }

  /** Undefined when the username is taken (in any case). */
  async insert(user: NewUser): Promise<StoredUser | undefined> {
    const [row] = await this.db.query<UserRow>(
      `INSERT INTO users (id, username, password_hash, email, email_verified, profile, disabled, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $8) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [user.id, user.username, user.passwordHash, user.email, user.emailVerified, JSON.stringify(user.profile), user.disabled ?? false, user.createdAt],
    );
    return row && fromRow(row);
  }

  async findById(id: string): Promise<StoredUser | undefined> {
    const [row] = await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return row && fromRow(row);
  }

  /** The user of this username in any case (sign-in); through users_username_unique. */
  async findByUsername(username: string): Promise<StoredUser | undefined> {
    const [row] = await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1)`, [username]);
    return row && fromRow(row);
  }

  /** The user, locked until the transaction ends: the change decided from it is the only one. */
  async lockById(id: string): Promise<StoredUser | undefined> {
    const [row] = await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1 FOR UPDATE`, [id]);
    return row && fromRow(row);
  }

  /** One page, newest first, after `position` (keyset pagination). */
  async list(filter: UserFilter, position: UserListPosition | undefined, limit: number): Promise<StoredUser[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (position) where.push(`(created_at, id) < (${param(position.createdAt)}, ${param(position.id)})`);
    if (filter.text !== undefined) {
      const pattern = param(`%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`(username ILIKE ${pattern} OR email ILIKE ${pattern} OR profile->>'name' ILIKE ${pattern})`);
    }
    if (filter.disabled !== undefined) where.push(`disabled = ${param(filter.disabled)}`);
    const rows = await this.db.query<UserRow>(
      `SELECT ${COLUMNS} FROM users ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${param(limit)}`,
      params,
    );
    return rows.map(fromRow);
  }

  /** Writes `change` and counts a new version; undefined when the user is gone. */
  async change(id: string, change: UserChange, now: number): Promise<StoredUser | undefined> {
    const [row] = await this.db.query<UserRow>(
      `UPDATE users
          SET username = COALESCE($2, username),
              password_hash = COALESCE($3, password_hash),
              email = CASE WHEN $4 THEN $5 ELSE email END,
              email_verified = COALESCE($6, email_verified),
              profile = COALESCE($7::jsonb, profile),
              disabled = COALESCE($8, disabled),
              updated_at = $9,
              version = version + 1
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [
        id,
        change.username ?? null,
        change.passwordHash ?? null,
        change.email !== undefined,
        change.email ?? null,
        change.emailVerified ?? null,
        change.profile !== undefined ? JSON.stringify(change.profile) : null,
        change.disabled ?? null,
        now,
      ],
    );
    return row && fromRow(row);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM users WHERE id = $1 RETURNING id', [id])).length === 1;
  }
}
