import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AuditEntry, AuditListQuery } from '../admin-client/types.js';
import { AUDIT_ACTIONS, type AuditAction } from '../audit/audit.js';
import { addRemoteOptions, connect, parseDuration, parsePositiveInteger, parseTime, type RemoteOptions } from './options.js';
import { emit, formatTable, formatTime, type Column } from './output.js';

/**
 * A point in time for --since and --until: a duration back from now with its unit (90s, 15m,
 * 1h, 7d), or epoch seconds or an ISO 8601 date as --created-after takes them. A bare number is
 * epoch seconds, never a duration.
 */
export function parseSince(value: string, now = Math.floor(Date.now() / 1000)): number {
  if (/^\d+[smhd]$/.test(value.trim())) return now - parseDuration(value);
  try {
    return parseTime(value);
  } catch {
    throw new InvalidArgumentError('expected a duration back from now (90s, 15m, 1h, 7d), epoch seconds, or an ISO 8601 date (2025-01-31)');
  }
}

const actorOf = (entry: AuditEntry) => (entry.actor_id === null ? entry.actor_type : `${entry.actor_type} ${entry.actor_id}`);

/** What an entry says beyond its action: the changed names, else its details. */
function changeOf(entry: AuditEntry): string {
  if (entry.changed_fields.length > 0) return entry.changed_fields.join(',');
  const details = Object.entries(entry.details).map(([name, value]) => `${name}=${String(value)}`);
  return details.length > 0 ? details.join(' ') : '-';
}

const AUDIT_COLUMNS: readonly Column<AuditEntry>[] = [
  { header: 'TIME', value: (e) => formatTime(e.at) },
  { header: 'ACTION', value: (e) => e.action },
  { header: 'ACTOR', value: actorOf },
  { header: 'CLIENT ID', value: (e) => e.client_id ?? '-' },
  { header: 'SOURCE', value: (e) => e.source_address ?? '-' },
  { header: 'REQUEST ID', value: (e) => e.request_id ?? '-' },
  { header: 'CHANGED', value: changeOf },
];

export function formatAuditTable(entries: readonly AuditEntry[]): string {
  return entries.length === 0 ? 'no audit entries' : formatTable(entries, AUDIT_COLUMNS);
}

interface AuditListOptions extends RemoteOptions {
  client?: string;
  action?: AuditAction;
  actor?: string;
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
  all?: boolean;
}

export function auditQuery(options: AuditListOptions): AuditListQuery {
  const query: AuditListQuery = {};
  if (options.limit !== undefined) query.limit = options.limit;
  if (options.cursor !== undefined) query.cursor = options.cursor;
  if (options.client !== undefined) query.client_id = options.client;
  if (options.action !== undefined) query.action = options.action;
  if (options.actor !== undefined) query.actor = options.actor;
  if (options.since !== undefined) query.since = options.since;
  if (options.until !== undefined) query.until = options.until;
  return query;
}

async function list(options: AuditListOptions): Promise<void> {
  const { api } = await connect(options);
  const query = auditQuery(options);
  let page = await api.listAudit(query);
  const entries = [...page.entries];
  while (options.all === true && page.next_cursor !== null) {
    page = await api.listAudit({ ...query, cursor: page.next_cursor });
    entries.push(...page.entries);
  }
  emit(options.json, { entries, next_cursor: page.next_cursor }, () => {
    const more = page.next_cursor === null ? '' : `\nmore: --cursor ${page.next_cursor} (or --all)`;
    return `${formatAuditTable(entries)}${more}`;
  });
}

/** `audit list`: the audit trail, newest first, through the admin API. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail: who changed what, when and from where (admin API)');

  addRemoteOptions(
    audit
      .command('list')
      .description('audit entries, newest first, a page at a time; names of changed fields, never values')
      .option('--client <client_id>', 'only entries about this client')
      .addOption(new Option('--action <action>', 'only entries of this action').choices(AUDIT_ACTIONS))
      .option('--actor <actor>', 'only entries of this actor: a type (admin, client, cli, system, anonymous) or an id')
      .option('--since <time>', 'entries at or after: a duration back from now (1h, 7d), epoch seconds or an ISO 8601 date', (value: string) => parseSince(value))
      .option('--until <time>', 'entries before: a duration back from now (1h, 7d), epoch seconds or an ISO 8601 date', (value: string) => parseSince(value))
      .option('--limit <n>', 'entries per page, 1 to 200 (server default 50)', parsePositiveInteger)
      .option('--cursor <cursor>', 'the page after this cursor (printed under a page that has more)')
      .option('--all', 'follow the cursors: every entry that matches')
      .addHelpText('after', '\nExamples:\n  oidc-registrar audit list --since 1h\n  oidc-registrar audit list --client CLIENT_ID --action client.update --json\n  oidc-registrar audit list --actor anonymous --action admin.authentication_failed --since 2025-01-31'),
  ).action(list);
}
