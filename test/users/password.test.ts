import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../src/http/oauth-error.js';
import { checkPassword, hashPassword, needsRehash, PASSWORD_HASH_PARAMETERS, verifyPassword } from '../../src/users/password.js';

describe('password hashing (scrypt)', () => {
  it('verifies the password it was made from, and no other', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('encodes its parameters, salt and key, so that they can be raised later', async () => {
    const hash = await hashPassword('s3cret-enough');
    const match = /^\$scrypt\$ln=15,r=8,p=1\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(hash);
    expect(match).not.toBeNull();
    expect(Buffer.from(match![1]!, 'base64url')).toHaveLength(PASSWORD_HASH_PARAMETERS.saltBytes);
    expect(Buffer.from(match![2]!, 'base64url')).toHaveLength(PASSWORD_HASH_PARAMETERS.keyBytes);
    expect(hash).not.toContain('s3cret');
    expect(needsRehash(hash)).toBe(false);
  });

  it('salts every hash: one password, two different hashes, both verifying', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });

  it('verifies a hash made with other (older) parameters, and says it needs rehashing', async () => {
    // a hash of "legacy password" with ln=14: what a later raise of the cost leaves behind
    const { scryptSync, randomBytes } = await import('node:crypto');
    const salt = randomBytes(16);
    const key = scryptSync('legacy password', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const old = `$scrypt$ln=14,r=8,p=1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(await verifyPassword('legacy password', old)).toBe(true);
    expect(await verifyPassword('legacy passwore', old)).toBe(false);
    expect(needsRehash(old)).toBe(true);
  });

  it('treats the same password in another Unicode form as the same (NFC)', async () => {
    const hash = await hashPassword('caf\u00e9-au-lait');
    expect(await verifyPassword('cafe\u0301-au-lait', hash)).toBe(true);
  });

  it('verifies nothing against a malformed or absurd hash', async () => {
    for (const bad of ['', 'plain', '$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '$argon2id$v=19$m=65536,t=3,p=4$abc$def']) {
      expect(await verifyPassword('whatever-password', bad)).toBe(false);
    }
  });

  it.each([
    ['7 characters', 'x'.repeat(7), false],
    ['8 characters', 'x'.repeat(8), true],
    ['1024 characters', 'x'.repeat(1024), true],
    ['1025 characters', 'x'.repeat(1025), false],
    ['8 emoji (16 UTF-16 units, 8 characters)', '\u{1F511}'.repeat(8), true],
    ['4 emoji (8 UTF-16 units, 4 characters)', '\u{1F511}'.repeat(4), false],
    ['a number', 12345678, false],
  ])('checkPassword: %s is %s', (_name, password, accepted) => {
    if (accepted) expect(checkPassword(password)).toBe(password);
    else {
      expect(() => checkPassword(password)).toThrow(OAuthError);
      try {
        checkPassword(password);
      } catch (error) {
        // the refusal never quotes the password
        if (typeof password === 'string') expect((error as Error).message).not.toContain(password.slice(0, 7));
      }
    }
  });
});
