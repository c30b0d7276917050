import { Box, Spacer, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { AdminApi, AuditEntry, AuditPage } from '../../admin-client/types.js';
import { isoSeconds } from '../client-form-model.js';
import { describeError, KeyHelp, Message, Title } from '../components/layout.js';
import { useKeys } from '../components/use-keys.js';
import type { Action } from '../store.js';

export interface AuditLogProps {
  api: AdminApi;
  /** Only this client's entries (opened from its detail screen); undefined: every entry. */
  clientId: string | undefined;
  pageSize: number;
  dispatch: (action: Action) => void;
}

/** Who acted, in a few words: the type, and the id when there is one. */
export const actorText = (entry: AuditEntry): string => (entry.actor_id === null ? entry.actor_type : `${entry.actor_type} ${entry.actor_id}`);

/** What an entry says beyond its action: the changed names, else its details (a key id, a refusal). */
export function auditChange(entry: AuditEntry): string {
  if (entry.changed_fields.length > 0) return entry.changed_fields.join(', ');
  const { status, error, kid } = entry.details;
  if (status !== undefined) return `${String(status)} ${String(error ?? '')}`.trim();
  if (kid !== undefined) return `kid ${String(kid)}`;
  return Object.entries(entry.details).map(([name, value]) => `${name}=${String(value)}`).join(' ');
}

/**
 * The audit trail, newest first, a page at a time (the server's next_cursor): every entry from
 * the client list, one client's from its detail screen. Read-only: entries are never changed.
 */
export function AuditLog({ api, clientId, pageSize, dispatch }: AuditLogProps) {
  // the cursor of each page visited, the first page's undefined; the last is the page shown
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const query = JSON.stringify([clientId ?? null, cursor ?? null, pageSize]);
  const [answer, setAnswer] = useState<{ query: string; page?: AuditPage; error?: string } | undefined>(undefined);

  useEffect(() => {
    let current = true;
    api.listAudit({ limit: pageSize, ...(clientId === undefined ? {} : { client_id: clientId }), ...(cursor === undefined ? {} : { cursor }) }).then(
      (page) => current && setAnswer({ query, page }),
      (failure: unknown) => current && setAnswer({ query, error: describeError(failure) }),
    );
    return () => {
      current = false;
    };
  }, [api, clientId, cursor, pageSize, query]);

  const page = answer?.query === query ? answer.page : undefined;
  const error = answer?.query === query ? answer.error : undefined;
  const entries = page?.entries ?? [];

  useKeys((input, key) => {
    if (key.escape || input === 'q') dispatch({ type: 'back' });
    else if ((key.pageDown || input === 'n') && page?.next_cursor) setCursors([...cursors, page.next_cursor]);
    else if ((key.pageUp || input === 'p') && cursors.length > 1) setCursors(cursors.slice(0, -1));
  });

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title detail={[clientId === undefined ? undefined : `client ${clientId}`, `page ${cursors.length}`].filter(Boolean).join(' · ')}>audit log</Title>
      <Message kind="error" text={error} />
      {page === undefined && error === undefined ? <Text dimColor>loading…</Text> : null}
      {page !== undefined && entries.length === 0 ? <Text dimColor>No audit entries.</Text> : null}
      {/* two lines an entry: when, what and who; then about which client, what changed, which request */}
      {entries.map((entry) => (
        <Box key={entry.id} flexDirection="column">
          <Text wrap="truncate-end">
            {isoSeconds(entry.at).padEnd(21)}
            <Text color={entry.action === 'admin.authentication_failed' ? 'red' : 'cyan'}>{entry.action.padEnd(33)}</Text>
            {actorText(entry)}
          </Text>
          <Text dimColor wrap="truncate-end">
            {'  '}
            {[clientId === undefined ? `client ${entry.client_id ?? '—'}` : undefined, auditChange(entry) || '—', `request ${entry.request_id ?? '—'}`].filter(Boolean).join(' · ')}
          </Text>
        </Box>
      ))}
      {page?.next_cursor ? <Text dimColor>… more on the next page (n)</Text> : null}
      <Spacer />
      <KeyHelp keys={[['n/p', 'next/previous page'], ['Esc', 'back']]} />
    </Box>
  );
}
