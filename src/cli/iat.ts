import type { Command } from 'commander';
import type { InitialAccessTokenInfo, NewInitialAccessTokenRequest } from '../admin-client/types.js';
import { addRemoteOptions, addYesOption, confirm, connect, parseDuration, parsePositiveInteger, type ConfirmOptions, type RemoteOptions } from './options.js';
import { emit, formatRecord, formatTable, formatTime, type Column } from './output.js';

const TOKEN_COLUMNS: readonly Column<InitialAccessTokenInfo>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'STATE', value: (t) => t.state },
  { header: 'USES', value: (t) => (t.max_uses === null ? String(t.uses) : `${t.uses}/${t.max_uses}`) },
  { header: 'LEFT', value: (t) => (t.uses_left === null ? 'unlimited' : String(t.uses_left)) },
  { header: 'POLICY', value: (t) => t.policy ?? '(default)' },
  { header: 'EXPIRES', value: (t) => formatTime(t.expires_at) },
  { header: 'DESCRIPTION', value: (t) => t.description ?? '-' },
];

const RECORD_ORDER = ['id', 'token', 'state', 'description', 'policy', 'max_uses', 'uses', 'uses_left', 'expires_at', 'revoked_at', 'created_at'];

export function formatTokenTable(tokens: readonly InitialAccessTokenInfo[]): string {
  return tokens.length === 0 ? 'no initial access tokens' : formatTable(tokens, TOKEN_COLUMNS);
}

export function formatToken(token: InitialAccessTokenInfo & { token?: string }): string {
  return formatRecord({ ...token }, RECORD_ORDER);
}

interface CreateOptions extends RemoteOptions {
  maxUses?: number;
  expiresIn?: number;
  policy?: string;
  description?: string;
}

/** `iat create|list|get|revoke`: initial access tokens for POST /register (RFC 7591 §3), through the admin API. */
export function registerIatCommands(program: Command): void {
  const iat = program.command('iat').description('initial access tokens, which let a partner register clients (admin API)');

  addRemoteOptions(
    iat
      .command('create')
      .description('make an initial access token; it is printed once, the server keeps only its hash')
      .option('--max-uses <n>', 'how many clients it may register (default: no limit)', parsePositiveInteger)
      .option('--expires-in <duration>', 'its lifetime: seconds, or 12h, 7d ... (default: none)', parseDuration)
      .option('--policy <name>', 'the registration policy its registrations run under (default: the default policy)')
      .option('--description <text>', 'what it is for, shown in lists')
      .addHelpText('after', '\nExample:\n  oidc-registrar iat create --max-uses 5 --expires-in 7d --policy partner-a --description "partner A"'),
  ).action(async (options: CreateOptions) => {
    const body: NewInitialAccessTokenRequest = {};
    if (options.maxUses !== undefined) body.max_uses = options.maxUses;
    if (options.expiresIn !== undefined) body.expires_in = options.expiresIn;
    if (options.policy !== undefined) body.policy = options.policy;
    if (options.description !== undefined) body.description = options.description;
    const created = await (await connect(options)).api.createInitialAccessToken(body);
    emit(options.json, created, () => `created ${created.id}\n${formatToken(created)}\n\nthe token is shown once: hand it to the partner now (Authorization: Bearer <token> at POST /register).`);
  });

  addRemoteOptions(iat.command('list').description('initial access tokens, newest first, with the uses they have left')).action(async (options: RemoteOptions) => {
    const { initial_access_tokens: tokens } = await (await connect(options)).api.listInitialAccessTokens();
    emit(options.json, { initial_access_tokens: tokens }, () => formatTokenTable(tokens));
  });

  addRemoteOptions(iat.command('get').description('one initial access token (never the token itself)').argument('<id>')).action(async (id: string, options: RemoteOptions) => {
    const token = await (await connect(options)).api.getInitialAccessToken(id);
    emit(options.json, token, () => formatToken(token));
  });

  addRemoteOptions(addYesOption(iat.command('revoke').description('stop a token registering clients, at once; clients it registered stay').argument('<id>'))).action(
    async (id: string, options: RemoteOptions & ConfirmOptions) => {
      await confirm(`Revoke initial access token ${id}?`, options);
      const token = await (await connect(options)).api.revokeInitialAccessToken(id);
      emit(options.json, token, () => `revoked ${token.id}`);
    },
  );
}
