import { createServer } from 'node:net';

/** Another process listens on the configured PORT (or METRICS_PORT): the operator picks another or stops it. */
export class PortInUseError extends Error {
  constructor(port: number, host: string, variable: 'PORT' | 'METRICS_PORT' = 'PORT') {
    super(`${variable} ${port} on ${host} is already in use`);
    this.name = 'PortInUseError';
  }
}

export function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

/**
 * Binds the port for a moment and lets it go: a start-up on a taken port then fails at once,
 * rather than after creating and migrating the database. Another process can still take the port
 * before the server listens; that failure is reported as the same PortInUseError.
 */
export async function checkPortIsFree(port: number, host: string, variable: 'PORT' | 'METRICS_PORT' = 'PORT'): Promise<void> {
  if (port === 0) return; // any free port, chosen when listening
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error) => reject(isAddressInUse(error) ? new PortInUseError(port, host, variable) : error));
    probe.listen({ port, host }, () => probe.close(() => resolve()));
  });
}
