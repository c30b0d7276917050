import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { cliChangeContext, withLocalDatabase } from './local-database.js';
import { CliExit, jsonOption } from './options.js';
import { emit } from './output.js';

/** Created here, empty, before the admin client exists: a taken name costs no orphan admin client. */
function createCredentialsFile(file: string): number {
  try {
    return openSync(file, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new CliExit(1, `${file} already exists: not overwriting it (it may hold the only copy of an admin key); choose another --out`);
    }
    throw new CliExit(1, `${file}: cannot be created (${code ?? String(error)})`);
  }
}

/** `admin bootstrap --out FILE`: the first admin client, made on the database itself. */
export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('administrators of this server');

  admin
    .command('bootstrap')
    .description('create a private_key_jwt admin client in the database and write its credentials file (mode 0600)')
    .requiredOption('-o, --out <file>', 'where to write the credentials; an existing file is never overwritten')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nWorks on the database itself, with the server\'s DATABASE_URL (and SECRETS_KEY) or DATA_DIR. An embedded server\n' +
        'writes DATA_DIR/admin-credentials.json on its first start instead; the embedded database allows one process at a\n' +
        'time, so stop the server before running this against it.\n\nExample:\n  oidc-registrar admin bootstrap --out admin.json && oidc-registrar clients list --credentials admin.json',
    )
    .action(async (options: { out: string; json?: boolean }) => {
      const file = resolve(options.out);
      const fd = createCredentialsFile(file);
      let written = false;
      try {
        const credentials = await withLocalDatabase(async (db, config) => {
          const { bootstrapAdminClient } = await import('../admin/bootstrap.js');
          return bootstrapAdminClient(db, config, cliChangeContext());
        });
        writeSync(fd, `${JSON.stringify(credentials, null, 2)}\n`);
        fsyncSync(fd);
        written = true;
        // the private key stays in the file: only where it is and whose it is are printed
        emit(options.json, { file, issuer: credentials.issuer, client_id: credentials.client_id }, () =>
          `wrote ${file} (mode 0600): admin client ${credentials.client_id} of ${credentials.issuer}`,
        );
      } finally {
        closeSync(fd);
        if (!written) rmSync(file, { force: true });
      }
    });
}
