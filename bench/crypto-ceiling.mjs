// The single-core crypto ceiling of the token endpoint with private_key_jwt: how many
// (verify one ES256 client assertion + sign one ES256 access token) pairs one core does per
// second, with the calls the server makes (jose compactVerify with an imported public key for
// the assertion; node:crypto sign with a KeyObject for the access token, as
// src/tokens/compact-jws.ts does). Pairs run one after another, never overlapping, so at most one
// core is busy at a time (jose uses WebCrypto, whose ECDSA work Node runs on a libuv thread-pool
// thread while the main thread waits for it). For comparison, the same pair done entirely with
// node:crypto (the fastest this machine can do it) is measured too.

import { createPublicKey, randomBytes, sign, verify as nodeVerify } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import { es256KeyPair } from './token-load.mjs';

const ISSUER = 'https://issuer.bench.example';

async function fixtures() {
  // the client's key and one assertion, verified over and over (nothing here checks replay)
  const client = es256KeyPair();
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${b64({ alg: 'ES256', kid: client.kid })}.${b64({ iss: 'bench-client', sub: 'bench-client', aud: ISSUER, iat: now, exp: now + 120, jti: 'ceiling' })}`;
  const assertion = `${input}.${sign('sha256', Buffer.from(input), { key: client.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  const clientPublicKey = await importJWK(client.publicJwk, 'ES256');
  const clientPublicKeyObject = createPublicKey({ key: client.publicJwk, format: 'jwk' });
  // the server's signing key, as ServerKeys holds it: a node:crypto KeyObject
  const server = es256KeyPair();
  return { assertion, clientPublicKey, clientPublicKeyObject, serverPrivateKey: server.privateKey, now };
}

/** Runs `op` back to back for `warmupMs` (discarded), then for `measureMs`. */
async function rate(op, warmupMs, measureMs) {
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) await op();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const end = started + measureMs;
  let ops = 0;
  while (performance.now() < end) {
    await op();
    ops += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { opsPerSecond: ops / seconds, ops, seconds, processCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/**
 * Pairs per second (the ceiling) plus, for context, verify-only and sign-only rates.
 * Run it while nothing else in this process is busy (before the server starts).
 */
export async function measureCryptoCeiling({ warmupMs = 1000, measureMs = 3000, componentMs = 1000 } = {}) {
  const { assertion, clientPublicKey, clientPublicKeyObject, serverPrivateKey, now } = await fixtures();
  const verify = () => compactVerify(assertion, clientPublicKey, { algorithms: ['ES256'] });
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signToken = async () => {
    const input = `${b64({ alg: 'ES256', kid: 'server-key', typ: 'at+jwt' })}.${b64({ iss: ISSUER, sub: 'bench-client', aud: ISSUER, client_id: 'bench-client', iat: now, exp: now + 300, jti: randomBytes(16).toString('base64url') })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: serverPrivateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const pair = async () => {
    await verify();
    await signToken();
  };
  const [signingInput, signature] = [assertion.slice(0, assertion.lastIndexOf('.')), Buffer.from(assertion.slice(assertion.lastIndexOf('.') + 1), 'base64url')];
  const rawPair = async () => {
    nodeVerify('sha256', Buffer.from(signingInput), { key: clientPublicKeyObject, dsaEncoding: 'ieee-p1363' }, signature);
    await signToken();
  };
  const pairs = await rate(pair, warmupMs, measureMs);
  const rawPairs = await rate(rawPair, componentMs / 4, componentMs);
  const verifyOnly = await rate(verify, componentMs / 4, componentMs);
  const signOnly = await rate(signToken, componentMs / 4, componentMs);
  return {
    rawPairOpsPerSecond: rawPairs.opsPerSecond,
    pairOpsPerSecond: pairs.opsPerSecond,
    pairOps: pairs.ops,
    measuredSeconds: pairs.seconds,
    warmupSeconds: warmupMs / 1000,
    // > 1 s per second would mean more than one core was busy
    processCpuSecondsPerSecond: pairs.processCpuSeconds / pairs.seconds,
    verifyOnlyOpsPerSecond: verifyOnly.opsPerSecond,
    signOnlyOpsPerSecond: signOnly.opsPerSecond,
  };
}
