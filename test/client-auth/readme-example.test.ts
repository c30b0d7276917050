import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/**
 * The README's private_key_jwt client, exactly as printed there: each example is the fenced block
 * after its `<!-- example: NAME ... -->` marker, run with node from the repository root (where jose
 * and openid-client resolve) against a real server. A README that cannot be followed fails here.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function example(name: string): string {
  const marker = README.indexOf(`<!-- example: ${name} `);
  if (marker === -1) throw new Error(`README.md has no example marker for ${name}`);
  const block = /```js\n([\s\S]*?)\n```/.exec(README.slice(marker));
  if (block === null) throw new Error(`README.md has no js block after the ${name} marker`);
  return block[1]!;
}

/** Runs an ES module given as text, with only PATH and ISSUER in its environment. */
function runScript(source: string, issuer: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ISSUER: issuer } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(source);
  });
}

describe(`the README's private_key_jwt client (${storageKind})`, () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  /** What the scripts print: the token response, with an RFC 9068 access token from this server. */
  async function expectVerifiedAccessToken(stdout: string): Promise<void> {
    const tokens = JSON.parse(stdout) as Record<string, unknown>;
    expect(tokens.scope).toBe('profile');
    expect(String(tokens.token_type).toLowerCase()).toBe('bearer'); // openid-client lower-cases it
    const { payload } = await jwtVerify(String(tokens.access_token), createRemoteJWKSet(new URL(`${server.url}/jwks`)), {
      issuer: server.url,
      audience: server.url,
      typ: 'at+jwt',
    });
    expect(payload.sub).toMatch(/.+/);
    expect(payload.client_id).toBe(payload.sub);
    expect(payload.scope).toBe('profile');
  }

  it('jose and fetch: makes a key pair, registers, signs an assertion and gets an access token', async () => {
    const { code, stdout, stderr } = await runScript(example('private-key-jwt-jose'), server.url);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    await expectVerifiedAccessToken(stdout);
  });

  it("openid-client: steps 1 and 2 of that script, then the variant's discovery and grant", async () => {
    const script = example('private-key-jwt-jose');
    const step3 = script.indexOf('\n// 3.');
    expect(step3).toBeGreaterThan(0);
    const { code, stdout, stderr } = await runScript(`${script.slice(0, step3)}\n${example('private-key-jwt-openid-client')}`, server.url);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    await expectVerifiedAccessToken(stdout);
  });
});
