import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, keyId } from '../../src/crypto/secret-box.js';
import { constantTimeEqual, hashToken, tokenMatchesHash } from '../../src/crypto/token-hash.js';
import { newClientId, newClientSecret, newRegistrationAccessToken } from '../../src/crypto/random.js';

describe('client secrets at rest (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const box = createSecretBox([key]);

  it('round-trips and never contains the plaintext', () => {
    const sealed = box.seal('s3cret-value', 'client-a');
    expect(sealed).not.toContain('s3cret-value');
    expect(sealed.split('.')).toHaveLength(4);
    expect(sealed.split('.')[1]).toBe(keyId(key));
    expect(box.open(sealed, 'client-a')).toBe('s3cret-value');
  });

  it('seals the same secret differently each time (fresh IV)', () => {
    expect(box.seal('x', 'c')).not.toBe(box.seal('x', 'c'));
  });

  it('binds the ciphertext to its client id', () => {
    const sealed = box.seal('s3cret', 'client-a');
    expect(() => box.open(sealed, 'client-b')).toThrow();
  });

  it('detects tampering', () => {
    const sealed = box.seal('s3cret', 'client-a');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    parts[3] = body.toString('base64url');
    expect(() => box.open(parts.join('.'), 'client-a')).toThrow();
  });

  it('opens secrets sealed under a previous key, and seals under the current one', () => {
    const oldKey = randomBytes(32);
    const sealedBefore = createSecretBox([oldKey]).seal('kept', 'c');
    const rotated = createSecretBox([randomBytes(32), oldKey]);
    expect(rotated.open(sealedBefore, 'c')).toBe('kept');
    expect(rotated.seal('new', 'c').split('.')[1]).not.toBe(keyId(oldKey));
  });

  it('says which key is missing rather than failing obscurely', () => {
    const sealed = createSecretBox([randomBytes(32)]).seal('x', 'c');
    expect(() => box.open(sealed, 'c')).toThrow(/not configured/);
  });
});

describe('tokens and ids', () => {
  it('have the entropy the specs ask for, URL-safe', () => {
    expect(Buffer.from(newClientId(), 'base64url')).toHaveLength(24);
    expect(Buffer.from(newClientSecret(), 'base64url')).toHaveLength(64);
    expect(Buffer.from(newRegistrationAccessToken(), 'base64url')).toHaveLength(32);
    for (const value of [newClientId(), newClientSecret(), newRegistrationAccessToken()]) expect(value).toMatch(/^[A-Za-z0-9_-]+$/);
    // 1 in 32 random ids would start with - or _: none does, so no CLI reads one as an option
    const ids = Array.from({ length: 2000 }, newClientId);
    expect(ids.filter((id) => !/^[A-Za-z0-9]/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(2000);
  });

  it('are stored as hashes and compared without early exit', () => {
    const token = newRegistrationAccessToken();
    const stored = hashToken(token);
    expect(stored.toString('hex')).not.toContain(token);
    expect(tokenMatchesHash(token, stored)).toBe(true);
    expect(tokenMatchesHash(`${token}x`, stored)).toBe(false);
    expect(tokenMatchesHash('', stored)).toBe(false);
    expect(constantTimeEqual('a', 'a')).toBe(true);
    expect(constantTimeEqual('a', 'ab')).toBe(false);
  });
});
