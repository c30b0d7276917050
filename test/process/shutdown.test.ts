import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKind } from '../support/test-server.js';
import { serverProcessEnvironment, startServerProcess } from '../support/server-process.js';

// Its own file: the shutdown grace period makes this test take 10 s, run beside the other
// process tests rather than after them.
describe(`the server process shutting down (${storageKind})`, () => {
  let env: Record<string, string>;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    ({ env, remove } = await serverProcessEnvironment());
  });
  afterAll(async () => remove());

  it('finishes on SIGTERM even when a client stalls mid-request', async () => {
    const server = await startServerProcess(env);
    const { connect } = await import('node:net');
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"redirect');
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const code = await server.stop();
    socket.destroy();
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);
});
