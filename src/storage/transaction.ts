import { AuditRepository } from './audit-repository.js';
import { ConsentRepository } from './authorization-repository.js';
import { ClientRepository } from './client-repository.js';
import type { Database, Queryable } from './database.js';
import { insertServerKey, type StoredServerKey } from './server-key-repository.js';
import { InitialAccessTokenRepository } from './initial-access-token-repository.js';
import { RefreshTokenRepository } from './refresh-token-repository.js';
import { RegistrationPolicyRepository } from './registration-policy-repository.js';
import { SessionRepository } from './session-repository.js';
import { UserRepository } from './user-repository.js';

/**
 * The repositories a change writes through. Built over one transaction by `inTransaction`, so
 * that a change and what comes with it (the audit entry, a use of an initial access token) are
 * committed together or not at all.
 */
export interface Repositories {
  clients: ClientRepository;
  /** The change's audit entry: `repos.audit.record({ action, context, ... })`. */
  audit: AuditRepository;
  serverKeys: { insert(key: StoredServerKey): Promise<void> };
  initialAccessTokens: InitialAccessTokenRepository;
  policies: RegistrationPolicyRepository;
  users: UserRepository;
  /** Browser sessions: a new password or a disabled account ends them with the change. */
  sessions: SessionRepository;
  /** Consent users gave clients: an operator revokes it with its audit entry. */
  consents: ConsentRepository;
  /** Refresh token families: revoked with the consent that let the client hold them. */
  refreshTokens: RefreshTokenRepository;
}

export function repositories(db: Queryable): Repositories {
  return {
    clients: new ClientRepository(db),
    audit: new AuditRepository(db),
    serverKeys: { insert: (key) => insertServerKey(db, key) },
    initialAccessTokens: new InitialAccessTokenRepository(db),
    policies: new RegistrationPolicyRepository(db),
    users: new UserRepository(db),
    sessions: new SessionRepository(db),
    consents: new ConsentRepository(db),
    refreshTokens: new RefreshTokenRepository(db),
  };
}

/** Runs `work` with repositories bound to one transaction: committed when it resolves. */
export type InTransaction = <T>(work: (repos: Repositories) => Promise<T>) => Promise<T>;

export function inTransaction(db: Database): InTransaction {
  return (work) => db.transaction((tx) => work(repositories(tx)));
}
