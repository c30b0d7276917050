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
  // synchronous hooks: they run on every request, and an async one costs a promise each time
  app.addHook('onRequest', (request, _reply, next) => {
    running.add(request);
    next();
  });
  app.addHook('preHandler', (request, _reply, next) => {
    handling.add(request);
    next();
  });
  // aborted before its handler started: nothing will run for it
  app.addHook('onRequestAbort', (request, next) => {
    if (!handling.has(request)) done(request);
    next();
  });
  app.addHook('onSend', (request, _reply, payload, next) => {
    done(request);
    next(null, payload);
  });
  app.addHook('onResponse', (request, _reply, next) => {
    done(request);
    next();
  });
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
