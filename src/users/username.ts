import { invalidRequest } from '../http/oauth-error.js';

/**
 * A username: 1 to 64 letters, digits, `.`, `_`, `@`, `+` or `-`, starting with a letter or
 * digit (an e-mail address fits). Unique whatever its case; kept as typed. The migration's
 * CHECK says the same.
 */
export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    throw invalidRequest('username must be 1 to 64 letters, digits, ".", "_", "@", "+" or "-", starting with a letter or digit');
  }
  return username;
}
