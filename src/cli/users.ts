import { InvalidArgumentError, type Command } from 'commander';
import type { AdminApi, AdminUser, UserListQuery } from '../admin-client/types.js';
import { addRemoteOptions, addYesOption, CliExit, collect, confirm, connect, parsePositiveInteger, usageError, type ConfirmOptions, type RemoteOptions } from './options.js';
import { emit, formatRecord, formatTable, formatTime, type Column } from './output.js';

const USER_COLUMNS: readonly Column<AdminUser>[] = [
  { header: 'ID', value: (u) => u.id },
  { header: 'USERNAME', value: (u) => u.username },
  { header: 'EMAIL', value: (u) => (u.email === undefined ? '-' : `${u.email}${u.email_verified ? '' : ' (unverified)'}`) },
  { header: 'NAME', value: (u) => u.name ?? '-' },
  { header: 'STATUS', value: (u) => (u.disabled ? 'disabled' : 'enabled') },
  { header: 'CREATED', value: (u) => formatTime(u.created_at) },
];

const RECORD_ORDER = ['id', 'username', 'disabled', 'email', 'email_verified', 'name', 'given_name', 'family_name', 'created_at', 'updated_at'];

export const formatUserTable = (users: readonly AdminUser[]) => (users.length === 0 ? 'no users' : formatTable(users, USER_COLUMNS));
export const formatUser = (user: AdminUser) => formatRecord({ ...user }, RECORD_ORDER);

/** The claim flags: the common ones by name, any other with --claim name=value. */
interface ClaimFlags {
  email?: string;
  emailVerified?: boolean;
  name?: string;
  givenName?: string;
  familyName?: string;
  claim?: string[];
}

/** "name=value": the _verified flags and address read as JSON, the rest as text (the server checks each). */
function parseClaim(pair: string, previous: string[] | undefined): string[] {
  if (!/^[a-z_]+=/.test(pair)) throw new InvalidArgumentError('expected name=value, such as locale=en-GB');
  return collect(pair, previous);
}

export function claimsFromFlags(flags: ClaimFlags): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const pair of flags.claim ?? []) {
    const [name, ...rest] = pair.split('=');
    const value = rest.join('=');
    if (name!.endsWith('_verified') || name === 'address') {
      try {
        claims[name!] = JSON.parse(value);
      } catch {
        throw usageError(`--claim ${name}: expected JSON (true, false, or an address object)`);
      }
    } else claims[name!] = value;
  }
  if (flags.email !== undefined) claims.email = flags.email;
  if (flags.emailVerified !== undefined) claims.email_verified = flags.emailVerified;
  if (flags.name !== undefined) claims.name = flags.name;
  if (flags.givenName !== undefined) claims.given_name = flags.givenName;
  if (flags.familyName !== undefined) claims.family_name = flags.familyName;
  return claims;
}

function addClaimFlags(command: Command): Command {
  return command
    .option('--email <address>', 'email')
    .option('--email-verified', 'email_verified: true')
    .option('--no-email-verified', 'email_verified: false')
    .option('--name <text>', 'name (full name)')
    .option('--given-name <text>', 'given_name')
    .option('--family-name <text>', 'family_name')
    .option('--claim <name=value>', 'any other claim of OpenID Connect Core §5.1: locale=en-GB, phone_number=+441234567890, address=\'{"locality":"Oxford"}\' (repeatable)', parseClaim);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line on the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const { stdin, stderr } = process;
  stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n') {
          finish();
          return resolve(value);
        }
        if (character === '\u0003' || character === '\u0004') {
          finish();
          return reject(new CliExit(1, 'cancelled'));
        }
        value = character === '\u007f' || character === '\b' ? [...value].slice(0, -1).join('') : value + character;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * The new password: from standard input with --password-stdin (one trailing newline dropped),
 * else asked twice on the terminal without echo. Never from the command line, where other users
 * of the machine and the shell's history would see it.
 */
async function readPassword(options: { passwordStdin?: boolean }): Promise<string> {
  if (options.passwordStdin === true) return (await readStdin()).replace(/\r?\n$/, '');
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) throw usageError('no terminal to ask the password on: pass --password-stdin and write it to standard input');
  const password = await promptHidden('Password: ');
  if ((await promptHidden('Password again: ')) !== password) throw new CliExit(1, 'the passwords differ');
  return password;
}

const USER_ID = /^[0-9a-f]{32}$/;

/** A user by id, or by username (in any case) when the argument is no id. */
async function resolveUser(api: AdminApi, reference: string): Promise<string> {
  if (USER_ID.test(reference)) return reference;
  const { users } = await api.listUsers({ q: reference, limit: 200 });
  const found = users.find((user) => user.username.toLowerCase() === reference.toLowerCase());
  if (found === undefined) throw new CliExit(1, `no user named ${reference}`);
  return found.id;
}

interface ListOptions extends RemoteOptions {
  limit?: number;
  cursor?: string;
  query?: string;
  disabled?: boolean;
}

const PASSWORD_HELP = 'read the password from standard input (else it is asked on the terminal, without echo)';

/** `users create|list|get|update|disable|enable|set-password|delete`: local user accounts, through the admin API. */
export function registerUsersCommands(program: Command): void {
  const users = program.command('users').description('local user accounts: usernames, passwords and profile claims (admin API)');

  addRemoteOptions(
    addClaimFlags(
      users
        .command('create')
        .description('make a user account; its password is read from standard input or asked for, never taken from the command line')
        .requiredOption('--username <name>', 'unique whatever its case: letters, digits, . _ @ + -')
        .option('--password-stdin', PASSWORD_HELP)
        .addHelpText('after', '\nExample:\n  printf %s "$PASSWORD" | oidc-registrar users create --username alice --email alice@example.com --password-stdin'),
    ),
  ).action(async (options: ClaimFlags & RemoteOptions & { username: string; passwordStdin?: boolean }) => {
    const password = await readPassword(options);
    const user = await (await connect(options)).api.createUser({ username: options.username, password, ...claimsFromFlags(options) });
    emit(options.json, user, () => `created ${user.username} (${user.id})\n${formatUser(user)}`);
  });

  addRemoteOptions(
    users
      .command('list')
      .description('user accounts, newest first, a page at a time')
      .option('--limit <n>', 'users per page, 1 to 200 (server default 50)', parsePositiveInteger)
      .option('--cursor <cursor>', 'the page after this cursor (printed under a page that has more)')
      .option('-q, --query <text>', 'text in the username, e-mail or name (case-insensitive)')
      .option('--disabled', 'only disabled users')
      .option('--no-disabled', 'only enabled users'),
  ).action(async (options: ListOptions) => {
    const query: UserListQuery = {};
    if (options.limit !== undefined) query.limit = options.limit;
    if (options.cursor !== undefined) query.cursor = options.cursor;
    if (options.query !== undefined) query.q = options.query;
    if (options.disabled !== undefined) query.disabled = options.disabled;
    const page = await (await connect(options)).api.listUsers(query);
    emit(options.json, page, () => `${formatUserTable(page.users)}${page.next_cursor !== null ? `\n\nmore: --cursor ${page.next_cursor}` : ''}`);
  });

  addRemoteOptions(users.command('get').description('one user account (never its password)').argument('<user>', 'its id, or its username')).action(
    async (reference: string, options: RemoteOptions) => {
      const { api } = await connect(options);
      const user = await api.getUser(await resolveUser(api, reference));
      emit(options.json, user, () => formatUser(user));
    },
  );

  addRemoteOptions(
    addClaimFlags(
      users
        .command('update')
        .description("change a user's username or claims; what is not named stays")
        .argument('<user>', 'its id, or its username')
        .option('--username <name>', 'a new username')
        .option('--unset <claim>', 'remove a claim (repeatable)', collect),
    ),
  ).action(async (reference: string, options: ClaimFlags & RemoteOptions & { username?: string; unset?: string[] }) => {
    const patch: Record<string, unknown> = { ...claimsFromFlags(options) };
    for (const name of options.unset ?? []) patch[name] = null;
    if (options.username !== undefined) patch.username = options.username;
    if (Object.keys(patch).length === 0) throw usageError('nothing to change: pass --username, claim flags such as --email, or --unset CLAIM');
    const { api } = await connect(options);
    const user = await api.patchUser(await resolveUser(api, reference), patch);
    emit(options.json, user, () => `updated ${user.username}\n${formatUser(user)}`);
  });

  for (const [action, verb] of [['disable', 'disabled'], ['enable', 'enabled']] as const) {
    addRemoteOptions(users.command(action).description(action === 'disable' ? 'switch an account off; it keeps its claims and password' : 'switch an account back on').argument('<user>', 'its id, or its username')).action(
      async (reference: string, options: RemoteOptions) => {
        const { api } = await connect(options);
        const id = await resolveUser(api, reference);
        const user = action === 'disable' ? await api.disableUser(id) : await api.enableUser(id);
        emit(options.json, user, () => `${verb} ${user.username}`);
      },
    );
  }

  addRemoteOptions(
    users.command('set-password').description("replace a user's password").argument('<user>', 'its id, or its username').option('--password-stdin', PASSWORD_HELP),
  ).action(async (reference: string, options: RemoteOptions & { passwordStdin?: boolean }) => {
    const password = await readPassword(options);
    const { api } = await connect(options);
    const user = await api.setUserPassword(await resolveUser(api, reference), password);
    emit(options.json, user, () => `password set for ${user.username}`);
  });

  addRemoteOptions(addYesOption(users.command('delete').description('delete a user account for good').argument('<user>', 'its id, or its username'))).action(
    async (reference: string, options: RemoteOptions & ConfirmOptions) => {
      await confirm(`Delete user ${reference}?`, options);
      const { api } = await connect(options);
      const id = await resolveUser(api, reference);
      await api.deleteUser(id);
      emit(options.json, { id, deleted: true }, () => `deleted ${reference}`);
    },
  );
}
