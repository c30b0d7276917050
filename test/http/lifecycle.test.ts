import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { trackInFlight } from '../../src/http/lifecycle.js';

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends GET `path` and gives it up (the socket destroyed) once `abandon` resolves. */
function requestThenAbandon(app: FastifyInstance, path: string, abandon: Promise<void>): void {
  const { port } = app.server.address() as AddressInfo;
  const outgoing = httpRequest({ host: '127.0.0.1', port, path, agent: false });
  outgoing.on('error', () => undefined); // the socket we destroy
  outgoing.end();
  void abandon.then(() => outgoing.destroy());
}

describe('closing waits for handlers still running, even when their client has gone (lifecycle.ts)', () => {
  let app: FastifyInstance;
  afterEach(async () => {
    await app.close();
  });

  async function start(routes: (app: FastifyInstance) => void): Promise<FastifyInstance> {
    app = Fastify();
    trackInFlight(app);
    routes(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app;
  }

  it('a handler between two awaits when its client disconnects holds close() until it finishes', async () => {
    const entered = gate();
    const release = gate();
    let finished = false;
    await start((a) =>
      a.get('/slow', async () => {
        entered.open();
        await release.opened; // a query in flight, say
        finished = true;
        return { ok: true };
      }),
    );
    requestThenAbandon(app, '/slow', entered.opened);
    await entered.opened;
    await new Promise((resolve) => setTimeout(resolve, 50)); // the abort reaches the server
    const closing = app.close();
    expect(await settlesWithin(closing, 300)).toBe(false);
    release.open();
    expect(await settlesWithin(closing, 2_000)).toBe(true);
    expect(finished).toBe(true);
  });

  it('a request given up before its handler started still holds close(): Fastify runs the handler anyway', async () => {
    const inHook = gate();
    const release = gate();
    let handled = false;
    await start((a) => {
      a.addHook('preValidation', async () => {
        inHook.open();
        await release.opened;
      });
      a.get('/later', async () => {
        handled = true; // storage would be used here
        return {};
      });
    });
    requestThenAbandon(app, '/later', inHook.opened);
    await inHook.opened;
    await new Promise((resolve) => setTimeout(resolve, 50)); // the abort reaches the server
    const closing = app.close();
    expect(await settlesWithin(closing, 300)).toBe(false);
    expect(handled).toBe(false);
    release.open();
    expect(await settlesWithin(closing, 2_000)).toBe(true);
    expect(handled).toBe(true);
  });

  it('after many finished requests, successes and errors alike, close() does not wait at all', async () => {
    await start((a) => {
      a.get('/ok', async () => ({ ok: true }));
      a.get('/fails', async () => {
        throw new Error('boom');
      });
    });
    const { port } = app.server.address() as AddressInfo;
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => fetch(`http://127.0.0.1:${port}/${i % 3 === 0 ? 'fails' : 'ok'}`).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    expect(statuses.filter((s) => s === 500)).toHaveLength(20);
    // a count that missed one request would hold close() for the whole 10 s drain timeout
    expect(await settlesWithin(app.close(), 1_000)).toBe(true);
  });
});
