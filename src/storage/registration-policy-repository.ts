import type { PolicyRules } from '../registration/registration-policy.js';
import { DatabaseUnavailableError } from './unavailable.js';
import type { Queryable } from './database.js';

export interface StoredPolicy {
  name: string;
  description: string | null;
  rules: PolicyRules;
  isDefault: boolean;
  createdAt: number;
  updatedAt: number;
}

interface PolicyRow {
  name: string;
  description: string | null;
  rules: PolicyRules;
  is_default: boolean;
  created_at: string | number;
  updated_at: string | number;
}

const COLUMNS = 'name, description, rules, is_default, created_at, updated_at';

/** How often a registration follows a default that moves while it waits for the policy's lock. */
const DEFAULT_LOCK_ATTEMPTS = 5;

function fromRow(row: PolicyRow): StoredPolicy {
  return {
    name: row.name,
    description: row.description,
    rules: row.rules,
    isDefault: row.is_default,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** True while no policy is the default: a registration without a token's policy then runs under none. */
export const NO_DEFAULT_POLICY = 'NOT EXISTS (SELECT 1 FROM registration_policies WHERE is_default)';

export class RegistrationPolicyRepository {
  constructor(private readonly db: Queryable) {}

  /** False when a policy of that name exists already. */
  async insert(policy: Omit<StoredPolicy, 'isDefault'>): Promise<StoredPolicy | undefined> {
    const [row] = await this.db.query<PolicyRow>(
      `INSERT INTO registration_policies (name, description, rules, created_at, updated_at)
       VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
      [policy.name, policy.description, JSON.stringify(policy.rules), policy.createdAt, policy.updatedAt],
    );
    return row && fromRow(row);
  }

  async findByName(name: string): Promise<StoredPolicy | undefined> {
    const [row] = await this.db.query<PolicyRow>(`SELECT ${COLUMNS} FROM registration_policies WHERE name = $1`, [name]);
    return row && fromRow(row);
  }

  async list(): Promise<StoredPolicy[]> {
    return (await this.db.query<PolicyRow>(`SELECT ${COLUMNS} FROM registration_policies ORDER BY name`)).map(fromRow);
  }

  /**
   * The policy a registration runs under, locked until its transaction ends: the named one, or
   * the default when `name` is null. The lock serialises registrations under one policy, so that
   * counting its clients and inserting one cannot interleave (max_clients holds under concurrency).
   */
  async lockForRegistration(name: string | null): Promise<StoredPolicy | undefined> {
    if (name !== null) return this.lockByName(name);
    // Not `WHERE is_default FOR UPDATE`: blocked behind a change of the default, that statement
    // re-checks the old row, finds it no longer the default and returns nothing (READ COMMITTED),
    // so the registration would run under no policy. The default is read, its row locked by
    // name, and the lock taken again if the default moved meanwhile.
    for (let attempt = 0; attempt < DEFAULT_LOCK_ATTEMPTS; attempt++) {
      const [current] = await this.db.query<{ name: string }>('SELECT name FROM registration_policies WHERE is_default');
      if (current === undefined) return undefined;
      const locked = await this.lockByName(current.name);
      if (locked?.isDefault) return locked;
    }
    // contention, not a fault: answered 503 with Retry-After like a busy database, never a 500
    throw new DatabaseUnavailableError(`the default registration policy changed ${DEFAULT_LOCK_ATTEMPTS} times while a registration waited for it`);
  }

  private async lockByName(name: string): Promise<StoredPolicy | undefined> {
    const [row] = await this.db.query<PolicyRow>(`SELECT ${COLUMNS} FROM registration_policies WHERE name = $1 FOR UPDATE`, [name]);
    return row && fromRow(row);
  }

  /** Whether the policy exists, holding it against deletion until the transaction ends. */
  async holdExisting(name: string): Promise<boolean> {
    return (await this.db.query(`SELECT name FROM registration_policies WHERE name = $1 FOR SHARE`, [name])).length === 1;
  }

  async replace(name: string, description: string | null, rules: PolicyRules, now: number): Promise<StoredPolicy | undefined> {
    const [row] = await this.db.query<PolicyRow>(
      `UPDATE registration_policies SET description = $2, rules = $3::jsonb, updated_at = $4 WHERE name = $1 RETURNING ${COLUMNS}`,
      [name, description, JSON.stringify(rules), now],
    );
    return row && fromRow(row);
  }

  async delete(name: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM registration_policies WHERE name = $1 RETURNING name', [name])).length === 1;
  }

  /** Makes `name` the one default (the previous default stops being one). Undefined when unknown. */
  async setDefault(name: string): Promise<StoredPolicy | undefined> {
    // every policy row locked: two concurrent changes of the default queue instead of both
    // clearing the old default and then colliding on the one-default index
    const names = await this.db.query<{ name: string }>('SELECT name FROM registration_policies ORDER BY name FOR UPDATE');
    if (!names.some((row) => row.name === name)) return undefined;
    await this.db.query('UPDATE registration_policies SET is_default = false WHERE is_default AND name <> $1', [name]);
    const [row] = await this.db.query<PolicyRow>(`UPDATE registration_policies SET is_default = true WHERE name = $1 RETURNING ${COLUMNS}`, [name]);
    return row && fromRow(row);
  }

  async clearDefault(): Promise<void> {
    await this.db.query('UPDATE registration_policies SET is_default = false WHERE is_default');
  }
}
