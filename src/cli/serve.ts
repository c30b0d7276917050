import type { Command } from 'commander';

/** `serve`: the server itself, exactly as `node dist/server.js` runs it. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the server (configured by the environment variables in the README: PORT, ISSUER, DATABASE_URL or DATA_DIR ...)')
    .addHelpText('after', '\nStops gracefully on SIGTERM or SIGINT (exit 0); a bad configuration or a PORT in use exits 78.')
    .action(async () => {
      const { runServer } = await import('../run-server.js');
      await runServer();
      // the server runs until a signal; run-server exits the process itself then
      await new Promise<never>(() => undefined);
    });
}
