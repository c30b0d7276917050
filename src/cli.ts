#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { AdminTokenError } from './admin-client/admin-token.js';
import { CredentialsError } from './admin-client/credentials.js';
import { AdminUnreachableError } from './admin-client/http-admin-api.js';
import { AdminApiError } from './admin-client/types.js';
import { registerAdminCommands } from './cli/admin.js';
import { registerAuditCommands } from './cli/audit.js';
import { registerClientsCommands } from './cli/clients.js';
import { registerIatCommands } from './cli/iat.js';
import { registerKeysCommands } from './cli/keys.js';
import { registerPoliciesCommands } from './cli/policies.js';
import { registerMigrateCommand } from './cli/migrate.js';
import { CliExit } from './cli/options.js';
import { registerSecretsCommands } from './cli/secrets.js';
import { registerServeCommand } from './cli/serve.js';
import { registerTokenCommand } from './cli/token.js';
import { registerTuiCommand } from './cli/tui.js';
import { registerUsersCommands } from './cli/users.js';
import { ConfigError } from './config/config.js';

/** Exit codes: 0 done, 1 failed (the reason on stderr), 2 the command line was wrong. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

function buildProgram(): Command {
  const program = new Command('oidc-registrar')
    .description(
      'The oidc-registrar server and its operator commands. Remote commands call the admin API of a running server with an ' +
        "admin client's credentials (--url, --credentials); admin bootstrap, migrate and secrets work on the database itself.",
    )
    .version(version(), '-V, --version')
    // every subcommand made with .command() below inherits these
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError();
  registerClientsCommands(program);
  registerKeysCommands(program);
  registerAuditCommands(program);
  registerIatCommands(program);
  registerPoliciesCommands(program);
  registerUsersCommands(program);
  registerTokenCommand(program);
  registerTuiCommand(program);
  registerAdminCommands(program);
  registerServeCommand(program);
  registerMigrateCommand(program);
  registerSecretsCommands(program);
  program.addHelpText('after', '\nExit codes: 0 done, 1 failed (the server\'s error_description on stderr), 2 usage error.');
  return program;
}

function fail(message: string): number {
  process.stderr.write(`oidc-registrar: ${message}\n`);
  return EXIT_FAILURE;
}

/** What each kind of failure prints, and the exit code it ends with. */
function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander printed the help or the usage error already
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (error instanceof CliExit) {
    if (error.message !== '') process.stderr.write(`oidc-registrar: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof AdminTokenError) return fail(`cannot obtain an admin token: ${error.description} (${error.error})`);
  if (error instanceof AdminApiError) return fail(`${error.description} (${error.error}, HTTP ${error.status})`);
  if (error instanceof AdminUnreachableError || error instanceof CredentialsError) return fail(error.message);
  if (error instanceof ConfigError) return fail(`configuration error: ${error.message}`);
  return fail(error instanceof Error ? error.message : String(error));
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return exitCodeOf(error);
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
