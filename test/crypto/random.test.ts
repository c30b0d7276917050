import { describe, expect, it } from 'vitest';
import { pooledRandomBytes, randomToken } from '../../src/crypto/random.js';

describe('pooled random bytes', () => {
  it('never hands out the same bytes twice, across pool refills too', () => {
    // 3,000 draws of 32 bytes span about twelve 8 KiB pools
    const draws = Array.from({ length: 3000 }, () => pooledRandomBytes(32));
    const copies = draws.map((d) => Buffer.from(d).toString('hex'));
    expect(new Set(copies).size).toBe(draws.length);
    // a slice handed out earlier keeps its bytes after later draws and refills
    expect(draws.map((d) => d.toString('hex'))).toEqual(copies);
    expect(draws.every((d) => d.length === 32)).toBe(true);
  });

  it('serves large draws directly, and tokens carry the bits asked for', () => {
    expect(pooledRandomBytes(4096)).toHaveLength(4096);
    expect(Buffer.from(randomToken(256), 'base64url')).toHaveLength(32);
    expect(randomToken(192)).not.toBe(randomToken(192));
  });
});
