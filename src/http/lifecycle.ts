import type { FastifyInstance } from 'fastify';

/** How long closing waits for handlers still running; server.ts cuts connections at 10 s too. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Fastify's close() waits for open connections, not for handlers whose client has gone: such a
 * handler may still be between two queries when the database closes. Handlers are counted from
 * routing to reply, and closing waits for them (bounded) before the hooks that close storage.
 */
export function trackInFlight(app: FastifyInstance): void {
  const running = new Set<object>();
  const handling = new WeakSet<object>();
  let drained: (() => void) | undefined;
  const done = (request: object) => {
    running.delete(request);
    if (running.size === 0) drained?.();
  };
  app.addHook('onRequest', async (request) => void running.add(request));
  app.addHook('preHandler', async (request) => void handling.add(request));
  // aborted before its handler started: nothing will run for it
  app.addHook('onRequestAbort', async (request) => (handling.has(request) ? undefined : done(request)));
  app.addHook('onSend', async (request) => done(request));
  app.addHook('onResponse', async (request) => done(request));
  app.addHook('onClose', async () => {
    if (running.size === 0) return;
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, DRAIN_TIMEOUT_MS).unref();
    });
  });
}

/** Runs `task` every `seconds` while the app is up; a failure is logged, not fatal. */
export function runPeriodically(app: FastifyInstance, seconds: number, task: () => Promise<unknown>): void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch((error: unknown) => app.log.warn({ err: error }, 'periodic task failed'))
      .finally(() => (running = false));
  }, seconds * 1000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}
