import type { Command } from 'commander';
import { withLocalDatabase } from './local-database.js';
import { jsonOption } from './options.js';
import { emit } from './output.js';

/** `migrate`: brings the database's schema up to date, as every server start does. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply the pending migrations to the database (DATABASE_URL, or the embedded one in DATA_DIR)')
    .addOption(jsonOption())
    .addHelpText('after', '\nThe embedded database allows one process at a time: stop the server first.')
    .action(async (options: { json?: boolean }) => {
      const applied = await withLocalDatabase(async (_db, _config, migrated) => migrated);
      emit(options.json, { applied }, () => (applied.length === 0 ? 'the database is up to date' : applied.map((file) => `applied ${file}`).join('\n')));
    });
}
