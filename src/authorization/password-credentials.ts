import { randomToken } from '../crypto/random.js';
import type { UserRepository } from '../storage/user-repository.js';
import { hashPassword, verifyPassword } from '../users/password.js';
import type { SessionUser } from './sessions.js';

/**
 * Username and password checked against the local accounts (src/users). An unknown username
 * costs the same scrypt run as a known one, against a hash of a random password made once, so
 * timing does not tell which usernames exist; a disabled account is refused only after its
 * password verified, with the same answer as a wrong one.
 */
export function passwordCredentials(users: Pick<UserRepository, 'findByUsername'>): (username: string, password: string) => Promise<SessionUser | undefined> {
  let decoy: Promise<string> | undefined;
  return async (username, password) => {
    const user = await users.findByUsername(username);
    if (user === undefined) {
      decoy ??= hashPassword(randomToken(256));
      await verifyPassword(password, await decoy);
      return undefined;
    }
    if (!(await verifyPassword(password, user.passwordHash)) || user.disabled) return undefined;
    return { id: user.id, username: user.username, disabled: user.disabled };
  };
}
