import { Option, type Command } from 'commander';
import type { AdminClient, ClientListQuery } from '../admin-client/types.js';
import { GRANT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS } from '../protocol/client-metadata-values.js';
import {
  addRemoteOptions,
  addYesOption,
  collect,
  confirm,
  connect,
  parseDuration,
  parsePositiveInteger,
  parseTime,
  readJsonObject,
  repeatableChoice,
  usageError,
  type ConfirmOptions,
  type RemoteOptions,
} from './options.js';
import { emit, formatRecord, formatTable, formatTime, type Column } from './output.js';

/** The flags that build a client's metadata and settings without a file. */
export interface ClientFlags {
  data?: string;
  name?: string;
  redirectUri?: string[];
  authMethod?: string;
  grantType?: string[];
  scope?: string[];
  tokenFormat?: string;
  tokenLifetime?: number;
  expiresIn?: number;
}

/**
 * The request body the flags stand for: each flag one field, over the --data document when there
 * is one. `now` (epoch seconds) turns --expires-in into expires_at.
 */
export function clientRequestFromFlags(flags: Omit<ClientFlags, 'data'>, now: number): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.name !== undefined) body.client_name = flags.name;
  if (flags.redirectUri !== undefined) body.redirect_uris = flags.redirectUri;
  if (flags.authMethod !== undefined) body.token_endpoint_auth_method = flags.authMethod;
  if (flags.grantType !== undefined) body.grant_types = flags.grantType;
  if (flags.scope !== undefined) body.scope = flags.scope.flatMap((s) => s.split(/\s+/)).filter((s) => s !== '').join(' ');
  if (flags.tokenFormat !== undefined) body.access_token_format = flags.tokenFormat;
  if (flags.tokenLifetime !== undefined) body.access_token_lifetime = flags.tokenLifetime;
  if (flags.expiresIn !== undefined) body.expires_at = now + flags.expiresIn;
  return body;
}

async function requestBody(flags: ClientFlags, what: string): Promise<Record<string, unknown>> {
  const fromFlags = clientRequestFromFlags(flags, Math.floor(Date.now() / 1000));
  if (flags.data === undefined && Object.keys(fromFlags).length === 0) {
    throw usageError(`nothing to ${what}: pass --data FILE (- for standard input) or flags such as --name and --redirect-uri`);
  }
  return { ...(flags.data !== undefined ? await readJsonObject(flags.data) : {}), ...fromFlags };
}

function addClientFlags(command: Command): Command {
  return command
    .option('-d, --data <file>', 'a JSON file of client metadata and settings; - reads standard input (flags override its fields)')
    .option('--name <name>', 'client_name')
    .option('--redirect-uri <uri>', 'a redirect URI (repeatable)', collect)
    .addOption(new Option('--auth-method <method>', 'token_endpoint_auth_method').choices(TOKEN_ENDPOINT_AUTH_METHODS))
    .addOption(repeatableChoice(new Option('--grant-type <type>', 'a grant type (repeatable)'), GRANT_TYPES))
    .option('--scope <scope>', 'scope values, space-separated or repeated', collect)
    .addOption(new Option('--token-format <format>', 'access_token_format').choices(['jwt', 'reference']))
    .option('--token-lifetime <duration>', 'access_token_lifetime: seconds, or 15m, 1h ...', parseDuration)
    .option('--expires-in <duration>', 'the client expires this long from now (expires_at): seconds, or 12h, 30d ...', parseDuration);
}

const now = () => Math.floor(Date.now() / 1000);

function stateOf(client: AdminClient): string {
  const states = [client.disabled ? 'disabled' : client.expires_at !== null && client.expires_at <= now() ? 'expired' : 'active'];
  if (client.admin) states.push('admin');
  return states.join(', ');
}

const CLIENT_COLUMNS: readonly Column<AdminClient>[] = [
  { header: 'CLIENT ID', value: (c) => c.client_id },
  { header: 'NAME', value: (c) => c.client_name ?? '-' },
  { header: 'AUTH METHOD', value: (c) => c.token_endpoint_auth_method },
  { header: 'STATE', value: stateOf },
  { header: 'CREATED', value: (c) => formatTime(c.created_at) },
  { header: 'LAST USED', value: (c) => formatTime(c.last_used_at) },
];

/** The operator's fields first, in this order; the client's metadata after them by name. */
const RECORD_ORDER = [
  'client_id',
  'client_name',
  'client_secret',
  'registration_access_token',
  'token_endpoint_auth_method',
  'disabled',
  'admin',
  'expires_at',
  'access_token_format',
  'access_token_lifetime',
  'created_via',
  'created_at',
  'updated_at',
  'last_used_at',
];

export function formatClientTable(clients: readonly AdminClient[]): string {
  return clients.length === 0 ? 'no clients' : formatTable(clients, CLIENT_COLUMNS);
}

export function formatClient(client: Readonly<Record<string, unknown>>): string {
  return formatRecord(client, RECORD_ORDER);
}

const SHOWN_ONCE = 'client_secret and registration_access_token are shown once: keep what you need now.';

interface ListOptions extends RemoteOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
  query?: string;
  authMethod?: string;
  disabled?: boolean;
  expired?: boolean;
  createdAfter?: number;
  createdBefore?: number;
}

function listQuery(options: ListOptions): ClientListQuery {
  const query: ClientListQuery = {};
  if (options.limit !== undefined) query.limit = options.limit;
  if (options.cursor !== undefined) query.cursor = options.cursor;
  if (options.query !== undefined) query.q = options.query;
  if (options.authMethod !== undefined) query.auth_method = options.authMethod;
  if (options.disabled !== undefined) query.disabled = options.disabled;
  if (options.expired !== undefined) query.expired = options.expired;
  if (options.createdAfter !== undefined) query.created_after = options.createdAfter;
  if (options.createdBefore !== undefined) query.created_before = options.createdBefore;
  return query;
}

async function list(options: ListOptions): Promise<void> {
  const { api } = await connect(options);
  const query = listQuery(options);
  let page = await api.listClients(query);
  const clients = [...page.clients];
  while (options.all === true && page.next_cursor !== null) {
    page = await api.listClients({ ...query, cursor: page.next_cursor });
    clients.push(...page.clients);
  }
  emit(options.json, { clients, next_cursor: page.next_cursor }, () => {
    const more = page.next_cursor === null ? '' : `\nmore: --cursor ${page.next_cursor} (or --all)`;
    return `${formatClientTable(clients)}${more}`;
  });
}

/** `clients list|get|create|update|patch|delete|disable|enable|rotate-secret|rotate-token`. */
export function registerClientsCommands(program: Command): void {
  const clients = program.command('clients').description('list, read, create, change and delete clients (admin API)');

  addRemoteOptions(
    clients
      .command('list')
      .description('clients, newest first, a page at a time')
      .option('--limit <n>', 'clients per page, 1 to 200 (server default 50)', parsePositiveInteger)
      .option('--cursor <cursor>', 'the page after this cursor (printed under a page that has more)')
      .option('--all', 'follow the cursors: every client that matches')
      .option('-q, --query <text>', 'text in client_name or client_id (case-insensitive)')
      .addOption(new Option('--auth-method <method>', 'only clients with this token_endpoint_auth_method').choices(TOKEN_ENDPOINT_AUTH_METHODS))
      .option('--disabled', 'only disabled clients')
      .option('--no-disabled', 'only enabled clients')
      .option('--expired', 'only expired clients')
      .option('--no-expired', 'only clients that have not expired')
      .option('--created-after <time>', 'created after: epoch seconds or an ISO 8601 date', parseTime)
      .option('--created-before <time>', 'created before: epoch seconds or an ISO 8601 date', parseTime),
  ).action(list);

  addRemoteOptions(clients.command('get').description("a client's metadata and settings").argument('<client_id>')).action(
    async (clientId: string, options: RemoteOptions) => {
      const client = await (await connect(options)).api.getClient(clientId);
      emit(options.json, client, () => formatClient(client));
    },
  );

  addRemoteOptions(
    addClientFlags(
      clients
        .command('create')
        .description('register a client: from a JSON file (--data), from flags, or both')
        .addHelpText('after', '\nExamples:\n  oidc-registrar clients create --data my_client.json\n  oidc-registrar clients create --name "My service" --grant-type client_credentials --scope "profile" --json'),
    ),
  ).action(async (options: ClientFlags & RemoteOptions) => {
    const body = await requestBody(options, 'create');
    const created = await (await connect(options)).api.createClient(body);
    emit(options.json, created, () => `created ${created.client_id}\n${formatClient(created)}\n\n${SHOWN_ONCE}`);
  });

  addRemoteOptions(
    addYesOption(
      addClientFlags(
        clients
          .command('update')
          .description('replace a client: fields and settings left out return to their defaults (PUT)')
          .argument('<client_id>'),
      ),
    ),
  ).action(async (clientId: string, options: ClientFlags & RemoteOptions & ConfirmOptions) => {
    const body = await requestBody(options, 'update');
    await confirm(`Replace every field of client ${clientId} (fields left out return to their defaults)?`, options);
    const client = await (await connect(options)).api.replaceClient(clientId, body);
    emit(options.json, client, () => `replaced ${client.client_id}\n${formatClient(client)}`);
  });

  addRemoteOptions(
    addClientFlags(
      clients
        .command('patch')
        .description('change some fields of a client (JSON merge patch: null in --data removes a field)')
        .argument('<client_id>'),
    ),
  ).action(async (clientId: string, options: ClientFlags & RemoteOptions) => {
    const patch = await requestBody(options, 'patch');
    const client = await (await connect(options)).api.patchClient(clientId, patch);
    emit(options.json, client, () => `patched ${client.client_id}\n${formatClient(client)}`);
  });

  addRemoteOptions(addYesOption(clients.command('delete').description('delete a client; its tokens stop working').argument('<client_id>'))).action(
    async (clientId: string, options: RemoteOptions & ConfirmOptions) => {
      await confirm(`Delete client ${clientId}?`, options);
      await (await connect(options)).api.deleteClient(clientId);
      emit(options.json, { client_id: clientId, deleted: true }, () => `deleted ${clientId}`);
    },
  );

  addRemoteOptions(
    addYesOption(clients.command('disable').description('refuse the client at every endpoint until it is enabled again').argument('<client_id>')),
  ).action(async (clientId: string, options: RemoteOptions & ConfirmOptions) => {
    await confirm(`Disable client ${clientId}?`, options);
    const client = await (await connect(options)).api.disableClient(clientId);
    emit(options.json, client, () => `disabled ${client.client_id}`);
  });

  addRemoteOptions(clients.command('enable').description('accept a disabled client again').argument('<client_id>')).action(
    async (clientId: string, options: RemoteOptions) => {
      const client = await (await connect(options)).api.enableClient(clientId);
      emit(options.json, client, () => `enabled ${client.client_id}`);
    },
  );

  addRemoteOptions(
    addYesOption(
      clients
        .command('rotate-secret')
        .description('issue a new client secret; the previous one stops working (after --grace-period)')
        .argument('<client_id>')
        .option('--grace-period <duration>', 'the previous secret keeps working this long: seconds, or 1h, 7d (at most 7d)', parseDuration),
    ),
  ).action(async (clientId: string, options: RemoteOptions & ConfirmOptions & { gracePeriod?: number }) => {
    const grace = options.gracePeriod === undefined || options.gracePeriod === 0 ? 'at once' : `in ${options.gracePeriod} s`;
    await confirm(`Issue a new secret for client ${clientId}? The current one stops working ${grace}.`, options);
    const client = await (await connect(options)).api.rotateSecret(clientId, options.gracePeriod);
    emit(options.json, client, () => `${formatRecord({ client_id: client.client_id, client_secret: client.client_secret }, ['client_id'])}\n\nthe client_secret is shown once.`);
  });

  addRemoteOptions(
    addYesOption(clients.command('rotate-token').description('issue a new registration access token (RFC 7592); the previous one stops working').argument('<client_id>')),
  ).action(async (clientId: string, options: RemoteOptions & ConfirmOptions) => {
    await confirm(`Issue a new registration access token for client ${clientId}? The current one stops working.`, options);
    const client = await (await connect(options)).api.rotateRegistrationToken(clientId);
    emit(
      options.json,
      client,
      () => `${formatRecord({ client_id: client.client_id, registration_access_token: client.registration_access_token }, ['client_id'])}\n\nthe registration_access_token is shown once.`,
    );
  });
}
