import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { pooledRandomBytes } from './random.js';

const VERSION = 'v1';

/**
 * Client secrets encrypted at rest with AES-256-GCM. A ciphertext reads
 * `v1.<key id>.<iv>.<ciphertext+tag>` (base64url), so that a new key can be introduced while
 * secrets sealed under the old one still open. The client id is authenticated data: a secret
 * copied onto another client's row does not decrypt.
 */
export interface SecretBox {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
  /** Key ids in configuration order: SECRETS_KEY first, then SECRETS_KEY_PREVIOUS. */
  readonly keyIds: readonly string[];
}

/** The id of the key a ciphertext was sealed under, read from its text without opening it. */
export function sealedKeyId(sealed: string): string | undefined {
  const [version, id] = sealed.split('.');
  return version === VERSION ? id : undefined;
}

/** A short public fingerprint of the key; never the key itself. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('oidc-registrar secret key id').update(key).digest('base64url').slice(0, 8);
}

export function createSecretBox(keys: readonly Buffer[]): SecretBox {
  const [current] = keys;
  if (!current) throw new Error('at least one secrets key is required');
  const byId = new Map(keys.map((key) => [keyId(key), key] as const));
  const currentId = keyId(current);

  return {
    keyIds: keys.map(keyId),
    seal(plaintext, context) {
      const iv = pooledRandomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return [VERSION, currentId, iv.toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed, context) {
      const [version, id, iv, body] = sealed.split('.');
      if (version !== VERSION || id === undefined || iv === undefined || body === undefined) {
        throw new Error('unrecognised secret ciphertext format');
      }
      const key = byId.get(id);
      if (!key) throw new Error(`secret sealed under key ${id}, which is not configured (SECRETS_KEY / SECRETS_KEY_PREVIOUS)`);
      const data = Buffer.from(body, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
    },
  };
}
