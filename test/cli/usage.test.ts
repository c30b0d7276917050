import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';

const empty = mkdtempSync(join(tmpdir(), 'registrar-cli-usage-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));
/** No credentials anywhere: DATA_DIR is empty, no OIDC_REGISTRAR_* variables. */
const env = { DATA_DIR: empty, XDG_CACHE_HOME: join(empty, 'cache') };

/** Every command, as `help` lists them: a new one must be added here, with its --help. */
const COMMANDS = [
  'clients',
  'clients list',
  'clients get',
  'clients create',
  'clients update',
  'clients patch',
  'clients delete',
  'clients disable',
  'clients enable',
  'clients rotate-secret',
  'clients rotate-token',
  'keys',
  'keys list',
  'keys rotate',
  'audit',
  'audit list',
  'token',
  'tui',
  'admin',
  'admin bootstrap',
  'iat',
  'iat create',
  'iat list',
  'iat get',
  'iat revoke',
  'policies',
  'policies list',
  'policies get',
  'policies create',
  'policies update',
  'policies delete',
  'policies set-default',
  'policies clear-default',
  'users',
  'users create',
  'users list',
  'users get',
  'users update',
  'users disable',
  'users enable',
  'users set-password',
  'users delete',
  'serve',
  'migrate',
  'secrets',
  'secrets status',
  'secrets reseal',
];

/** The subcommands a help text lists under "Commands:", without commander's own `help`. */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
}

describe('--help everywhere', () => {
  it('lists every command group, and each group lists its commands', async () => {
    const top = await runCli(['--help'], { env });
    expect(top.code).toBe(0);
    const found: string[] = [];
    for (const group of listedCommands(top.stdout)) {
      found.push(group);
      const help = await runCli([group, '--help'], { env });
      found.push(...listedCommands(help.stdout).map((name) => `${group} ${name}`));
    }
    expect(found.sort()).toEqual([...COMMANDS].sort());
  });

  it.each(COMMANDS)('%s --help: usage on stdout, exit 0', async (command) => {
    const result = await runCli([...command.split(' '), '--help'], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: oidc-registrar ${command} `);
    expect(result.stderr).toBe('');
  });

  it('names the exit codes, the remote options and their variables', async () => {
    expect((await runCli(['--help'], { env })).stdout).toContain('Exit codes: 0 done, 1 failed');
    const help = (await runCli(['clients', 'list', '--help'], { env })).stdout;
    for (const text of ['--url <url>', 'OIDC_REGISTRAR_URL', '--credentials <file>', 'OIDC_REGISTRAR_CREDENTIALS', '--json']) expect(help).toContain(text);
    expect((await runCli(['clients', 'delete', '--help'], { env })).stdout).toContain('-y, --yes');
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await runCli(['--version'], { env })).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});

describe('usage errors exit 2 and say what is wrong', () => {
  it.each([
    ['no command at all', [], /Usage: oidc-registrar/],
    ['a group without its command', ['clients'], /Usage: oidc-registrar clients/],
    ['an unknown command, with a suggestion', ['clients', 'lst'], /unknown command 'lst'[\s\S]*Did you mean list\?/],
    ['an unknown option', ['clients', 'list', '--colour'], /unknown option '--colour'/],
    ['a missing argument', ['clients', 'get'], /missing required argument 'client_id'/],
    ['a value outside the choices', ['clients', 'create', '--auth-method', 'password'], /Allowed choices are client_secret_jwt, private_key_jwt/],
    ['a repeated choice with one bad value', ['clients', 'create', '--grant-type', 'client_credentials', '--grant-type', 'password'], /Allowed choices are authorization_code/],
    ['a duration that is not one', ['clients', 'create', '--name', 'x', '--expires-in', 'soon'], /--expires-in <duration>' argument 'soon' is invalid/],
    ['a list limit that is not a number', ['clients', 'list', '--limit', 'many'], /expected a whole number/],
    ['clients create with nothing to create', ['clients', 'create'], /nothing to create: pass --data FILE/],
    ['admin bootstrap without --out', ['admin', 'bootstrap'], /required option '-o, --out <file>' not specified/],
    ['secrets reseal with a bad batch size', ['secrets', 'reseal', '--batch-size', '0'], /expected a whole number from 1 to 10000/],
    ['a remote command without credentials', ['clients', 'list'], /no admin credentials: pass --credentials FILE or set OIDC_REGISTRAR_CREDENTIALS/],
    ['a destructive command off a terminal without --yes', ['clients', 'delete', 'abc'], /Delete client abc: pass --yes to confirm when not on a terminal/],
  ])('%s', async (_name, args, message) => {
    const result = await runCli(args, { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});
