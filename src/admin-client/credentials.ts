import { readFile } from 'node:fs/promises';
import { importJWK, type CryptoKey } from 'jose';
import type { AdminCredentials } from './types.js';

/** The credentials file is missing, unreadable, or not what `admin bootstrap` writes. */
export class CredentialsError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'CredentialsError';
  }
}

export interface LoadedCredentials {
  credentials: AdminCredentials;
  /** The private key, imported for signing client assertions. */
  signingKey: CryptoKey | Uint8Array;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** Checks the shape of a parsed credentials file; the message names the member at fault. */
export function parseCredentials(file: string, document: unknown): AdminCredentials {
  const fail = (problem: string) => new CredentialsError(file, problem);
  if (!isObject(document)) throw fail('must be a JSON object with issuer, client_id and private_jwk');
  const { issuer, client_id: clientId, private_jwk: jwk } = document;
  if (!isNonEmptyString(issuer)) throw fail('issuer must be a non-empty string');
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw fail(`issuer must be an absolute URL, got "${issuer}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw fail('issuer must be an http(s) URL');
  if (!isNonEmptyString(clientId)) throw fail('client_id must be a non-empty string');
  if (!isObject(jwk)) throw fail('private_jwk must be a JSON Web Key object');
  if (!isNonEmptyString(jwk.kty)) throw fail('private_jwk.kty is missing');
  if (!isNonEmptyString(jwk.d)) throw fail('private_jwk is not a private key (no "d")');
  if (!isNonEmptyString(jwk.kid)) throw fail('private_jwk.kid is missing');
  if (!isNonEmptyString(jwk.alg)) throw fail('private_jwk.alg is missing');
  return { issuer, client_id: clientId, private_jwk: { ...jwk, kid: jwk.kid, alg: jwk.alg } };
}

/** Reads, validates and imports an admin credentials file. Its contents never reach a message. */
export async function readCredentials(file: string): Promise<LoadedCredentials> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CredentialsError(file, code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(error)})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new CredentialsError(file, 'is not JSON');
  }
  const credentials = parseCredentials(file, document);
  let signingKey: CryptoKey | Uint8Array;
  try {
    signingKey = await importJWK(credentials.private_jwk, credentials.private_jwk.alg);
  } catch (error) {
    throw new CredentialsError(file, `private_jwk cannot be used with ${credentials.private_jwk.alg} (${error instanceof Error ? error.message : String(error)})`);
  }
  return { credentials, signingKey };
}
