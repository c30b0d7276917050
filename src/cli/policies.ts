import { Option, type Command } from 'commander';
import type { RegistrationPolicyInfo, RegistrationPolicyRequest } from '../admin-client/types.js';
import { ACCESS_TOKEN_FORMATS } from '../config/config.js';
import { GRANT_TYPES, RESPONSE_TYPES, TOKEN_ENDPOINT_AUTH_METHODS } from '../protocol/client-metadata-values.js';
import { REQUIRABLE_FIELDS } from '../registration/registration-policy.js';
import {
  addRemoteOptions,
  addYesOption,
  collect,
  confirm,
  connect,
  parseDuration,
  readJsonObject,
  repeatableChoice,
  usageError,
  type ConfirmOptions,
  type RemoteOptions,
} from './options.js';
import { InvalidArgumentError } from 'commander';
import { emit, formatJson, formatTable, formatTime, type Column } from './output.js';

/** The flags that build a policy's rules without a file; each flag one rule. */
export interface PolicyFlags {
  file?: string;
  description?: string;
  redirectHost?: string[];
  loopback?: boolean;
  grantType?: string[];
  responseType?: string[];
  authMethod?: string[];
  scope?: string[];
  maxClients?: number;
  maxClientsPerToken?: number;
  requireField?: string[];
  tokenFormat?: string;
  tokenLifetime?: number;
  clientLifetime?: number;
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return Number(value);
}

/** The rules the flags stand for (the server checks them; the CLI only shapes them). */
export function rulesFromFlags(flags: Omit<PolicyFlags, 'file' | 'description'>): Record<string, unknown> {
  const rules: Record<string, unknown> = {};
  if (flags.redirectHost !== undefined) rules.redirect_uri_hosts = flags.redirectHost;
  if (flags.loopback !== undefined) rules.allow_loopback_redirects = flags.loopback;
  if (flags.grantType !== undefined) rules.grant_types = flags.grantType;
  if (flags.responseType !== undefined) rules.response_types = flags.responseType;
  if (flags.authMethod !== undefined) rules.token_endpoint_auth_methods = flags.authMethod;
  if (flags.scope !== undefined) rules.scopes = flags.scope.flatMap((s) => s.split(/\s+/)).filter((s) => s !== '');
  if (flags.maxClients !== undefined) rules.max_clients = flags.maxClients;
  if (flags.maxClientsPerToken !== undefined) rules.max_clients_per_token = flags.maxClientsPerToken;
  if (flags.requireField !== undefined) rules.required_fields = flags.requireField;
  if (flags.tokenFormat !== undefined) rules.access_token_format = flags.tokenFormat;
  if (flags.tokenLifetime !== undefined) rules.access_token_lifetime = flags.tokenLifetime;
  if (flags.clientLifetime !== undefined) rules.client_lifetime = flags.clientLifetime;
  return rules;
}

/**
 * The policy document: --file (a policy, {"description", "rules"}, or its rules alone), with the
 * flags laid over its rules. Nothing at all is refused: an empty policy is made with --file.
 */
async function policyRequest(flags: PolicyFlags, what: string): Promise<RegistrationPolicyRequest> {
  const fromFlags = rulesFromFlags(flags);
  if (flags.file === undefined && Object.keys(fromFlags).length === 0 && flags.description === undefined) {
    throw usageError(`nothing to ${what}: pass --file FILE (- for standard input) or rule flags such as --redirect-host and --grant-type`);
  }
  const document = flags.file !== undefined ? await readJsonObject(flags.file) : {};
  const isPolicy = 'rules' in document;
  const baseRules = (isPolicy ? document.rules : document) as Record<string, unknown>;
  const request: RegistrationPolicyRequest = { rules: { ...(typeof baseRules === 'object' && baseRules !== null ? baseRules : {}), ...fromFlags } };
  const description = flags.description ?? (isPolicy ? document.description : undefined);
  if (description !== undefined) request.description = description as string | null;
  return request;
}

function addPolicyFlags(command: Command): Command {
  return command
    .option('-f, --file <file>', 'a JSON policy ({"description", "rules"}) or its rules alone; - reads standard input (flags override its rules)')
    .option('--description <text>', 'what the policy is for')
    .option('--redirect-host <host>', 'redirect_uri_hosts: a trusted host, or *.example.com (repeatable)', collect)
    .option('--loopback', 'allow_loopback_redirects: true')
    .option('--no-loopback', 'allow_loopback_redirects: false (no localhost, 127.0.0.0/8, [::1] redirects)')
    .addOption(repeatableChoice(new Option('--grant-type <type>', 'grant_types allowed (repeatable)'), GRANT_TYPES))
    .addOption(repeatableChoice(new Option('--response-type <type>', 'response_types allowed (repeatable)'), RESPONSE_TYPES))
    .addOption(repeatableChoice(new Option('--auth-method <method>', 'token_endpoint_auth_methods allowed (repeatable)'), TOKEN_ENDPOINT_AUTH_METHODS))
    .option('--scope <scope>', 'scopes allowed, space-separated or repeated', collect)
    .option('--max-clients <n>', 'max_clients: clients registered under the policy at once', parseCount)
    .option('--max-clients-per-token <n>', 'max_clients_per_token: clients of one initial access token at once', parseCount)
    .addOption(repeatableChoice(new Option('--require-field <field>', 'required_fields: metadata a registration must include (repeatable)'), REQUIRABLE_FIELDS))
    .addOption(new Option('--token-format <format>', 'access_token_format of its clients').choices(ACCESS_TOKEN_FORMATS))
    .option('--token-lifetime <duration>', 'access_token_lifetime of its clients: seconds, or 15m, 1h ...', parseDuration)
    .option('--client-lifetime <duration>', 'client_lifetime: its clients expire this long after registering (30d, 365d ...)', parseDuration);
}

const POLICY_COLUMNS: readonly Column<RegistrationPolicyInfo>[] = [
  { header: 'NAME', value: (p) => p.name },
  { header: 'DEFAULT', value: (p) => (p.is_default ? 'yes' : '') },
  { header: 'RULES', value: (p) => Object.keys(p.rules).join(', ') || '-' },
  { header: 'UPDATED', value: (p) => formatTime(p.updated_at) },
  { header: 'DESCRIPTION', value: (p) => p.description ?? '-' },
];

export function formatPolicyTable(policies: readonly RegistrationPolicyInfo[]): string {
  return policies.length === 0 ? 'no registration policies' : formatTable(policies, POLICY_COLUMNS);
}

export function formatPolicy(policy: RegistrationPolicyInfo): string {
  const head = [`name         ${policy.name}${policy.is_default ? ' (default)' : ''}`, `description  ${policy.description ?? '-'}`, `updated_at   ${formatTime(policy.updated_at)}`];
  return `${head.join('\n')}\nrules\n${formatJson(policy.rules).replace(/^/gm, '  ')}`;
}

/** `policies list|get|create|update|delete|set-default|clear-default`: registration policies, through the admin API. */
export function registerPoliciesCommands(program: Command): void {
  const policies = program.command('policies').description('registration policies: the rules registrations must meet (admin API)');

  addRemoteOptions(policies.command('list').description('the policies, by name, and which is the default')).action(async (options: RemoteOptions) => {
    const { policies: list } = await (await connect(options)).api.listPolicies();
    emit(options.json, { policies: list }, () => formatPolicyTable(list));
  });

  addRemoteOptions(policies.command('get').description('one policy and its rules').argument('<name>')).action(async (name: string, options: RemoteOptions) => {
    const policy = await (await connect(options)).api.getPolicy(name);
    emit(options.json, policy, () => formatPolicy(policy));
  });

  addRemoteOptions(
    addPolicyFlags(
      policies
        .command('create')
        .description('make a policy, from a JSON file, from flags, or both')
        .argument('<name>')
        .addHelpText('after', '\nExample:\n  oidc-registrar policies create partner-a --redirect-host "*.partner-a.example" --grant-type authorization_code --max-clients-per-token 5'),
    ),
  ).action(async (name: string, options: PolicyFlags & RemoteOptions) => {
    const body = await policyRequest(options, 'create');
    const policy = await (await connect(options)).api.createPolicy({ ...body, name });
    emit(options.json, policy, () => `created ${policy.name}\n${formatPolicy(policy)}`);
  });

  addRemoteOptions(
    addYesOption(addPolicyFlags(policies.command('update').description("replace a policy's rules (rules left out no longer apply); takes effect at once").argument('<name>'))),
  ).action(async (name: string, options: PolicyFlags & RemoteOptions & ConfirmOptions) => {
    const body = await policyRequest(options, 'update');
    await confirm(`Replace the rules of policy ${name} (rules left out no longer apply)?`, options);
    const policy = await (await connect(options)).api.replacePolicy(name, body);
    emit(options.json, policy, () => `replaced ${policy.name}\n${formatPolicy(policy)}`);
  });

  addRemoteOptions(addYesOption(policies.command('delete').description('delete a policy no token or client uses').argument('<name>'))).action(
    async (name: string, options: RemoteOptions & ConfirmOptions) => {
      await confirm(`Delete policy ${name}?`, options);
      await (await connect(options)).api.deletePolicy(name);
      emit(options.json, { name, deleted: true }, () => `deleted ${name}`);
    },
  );

  addRemoteOptions(policies.command('set-default').description('apply this policy to registrations whose token names none').argument('<name>')).action(
    async (name: string, options: RemoteOptions) => {
      const policy = await (await connect(options)).api.setDefaultPolicy(name);
      emit(options.json, policy, () => `${policy.name} is the default policy`);
    },
  );

  addRemoteOptions(policies.command('clear-default').description('no default policy: registrations without a policy of their own run under none')).action(
    async (options: RemoteOptions) => {
      await (await connect(options)).api.clearDefaultPolicy();
      emit(options.json, { default: null }, () => 'no default policy');
    },
  );
}
