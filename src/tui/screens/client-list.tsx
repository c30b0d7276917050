import { Box, Spacer, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { AdminApi, AdminClient, ClientPage } from '../../admin-client/types.js';
import { editText, TextInput, type TextState } from '../components/text-input.js';
import { describeError, KeyHelp, Message, Title } from '../components/layout.js';
import { useCurrentState, useKeys } from '../components/use-keys.js';
import type { Action, ListPosition } from '../store.js';

export interface ClientListProps {
  api: AdminApi;
  position: ListPosition;
  pageSize: number;
  width: number;
  notice: string | undefined;
  dispatch: (action: Action) => void;
  onQuit: () => void;
}

/** The marks shown beside a client in the list. */
export function clientMarks(client: AdminClient, nowSeconds = Math.floor(Date.now() / 1000)): string[] {
  const marks: string[] = [];
  if (client.disabled) marks.push('disabled');
  if (client.expires_at !== null && client.expires_at <= nowSeconds) marks.push('expired');
  if (client.admin) marks.push('admin');
  return marks;
}

const ID_WIDTH = 34;
const METHOD_WIDTH = 22;
/** Room for "disabled expired"; "admin" may be cut. */
const MARKS_WIDTH = 17;

/**
 * The opening screen: one page of clients (newest first), searched with `q` and paged with the
 * server's `next_cursor`.
 */
export function ClientList({ api, position, pageSize, width, notice, dispatch, onQuit }: ClientListProps) {
  const { q, cursors, selected } = position;
  const cursor = cursors[cursors.length - 1];
  // The page answered, with the query it answers: a page of the previous query is never shown.
  const query = JSON.stringify([q, cursor ?? null, pageSize]);
  const [answer, setAnswer] = useState<{ query: string; page?: ClientPage; error?: string } | undefined>(undefined);
  const [search, setSearch, currentSearch] = useCurrentState<TextState | undefined>(undefined);

  useEffect(() => {
    let current = true;
    api.listClients({ limit: pageSize, ...(q === '' ? {} : { q }), ...(cursor === undefined ? {} : { cursor }) }).then(
      (page) => current && setAnswer({ query, page }),
      (failure: unknown) => current && setAnswer({ query, error: describeError(failure) }),
    );
    return () => {
      current = false;
    };
  }, [api, q, cursor, pageSize, query]);

  const page = answer?.query === query ? answer.page : undefined;
  const error = answer?.query === query ? answer.error : undefined;
  const clients = page?.clients ?? [];
  const row = Math.min(selected, Math.max(0, clients.length - 1));

  useKeys((input, key) => {
    const searching = currentSearch();
    if (searching !== undefined) {
      if (key.return) {
        setSearch(undefined);
        dispatch({ type: 'list/search', q: searching.value.trim() });
      } else if (key.escape) {
        setSearch(undefined);
      } else {
        const edited = editText(searching, input, key);
        if (edited) setSearch(edited);
      }
      return;
    }
    if (input === 'q') onQuit();
    else if (input === '/') setSearch({ value: q, cursor: q.length });
    else if (input === 'a') dispatch({ type: 'add' });
    else if (input === 'l') dispatch({ type: 'audit' });
    else if (input === 't') dispatch({ type: 'tokens' });
    else if (input === 'r') dispatch({ type: 'policies' });
    else if (input === 'u') dispatch({ type: 'users' });
    else if (key.escape && q !== '') dispatch({ type: 'list/search', q: '' });
    else if (key.upArrow || input === 'k') dispatch({ type: 'list/move', by: -1, rows: clients.length });
    else if (key.downArrow || input === 'j') dispatch({ type: 'list/move', by: 1, rows: clients.length });
    else if (key.return) dispatch({ type: 'list/open', clientIds: clients.map((client) => client.client_id) });
    else if ((key.pageDown || input === 'n') && page?.next_cursor) dispatch({ type: 'list/next-page', cursor: page.next_cursor });
    else if ((key.pageUp || input === 'p') && cursors.length > 1) dispatch({ type: 'list/previous-page' });
  });

  const nameWidth = Math.max(12, width - 2 - ID_WIDTH - METHOD_WIDTH - MARKS_WIDTH);
  const where = [q === '' ? undefined : `search "${q}"`, `page ${cursors.length}`].filter(Boolean).join(' · ');

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title detail={where}>clients</Title>
      {search !== undefined ? (
        <Box>
          <Text bold>search (client_name or client_id): </Text>
          <TextInput value={search.value} cursor={search.cursor} focused />
        </Box>
      ) : null}
      <Message kind="notice" text={notice} />
      <Message kind="error" text={error} />
      <Box>
        <Text bold>
          {'  '}
          {pad('NAME', nameWidth)}
          {pad('CLIENT ID', ID_WIDTH)}
          {pad('AUTH METHOD', METHOD_WIDTH)}
          STATUS
        </Text>
      </Box>
      {page === undefined && error === undefined ? <Text dimColor>loading…</Text> : null}
      {page !== undefined && clients.length === 0 ? <Text dimColor>{q === '' ? 'No clients yet: a to add one.' : `No client matches "${q}".`}</Text> : null}
      {clients.map((client, index) => (
        <Text key={client.client_id} {...(index === row ? { color: 'cyan' } : {})} wrap="truncate-end">
          {index === row ? '› ' : '  '}
          {pad(client.client_name ?? '(no name)', nameWidth)}
          {pad(client.client_id, ID_WIDTH)}
          {pad(client.token_endpoint_auth_method, METHOD_WIDTH)}
          <Text color="yellow">{clientMarks(client).join(' ')}</Text>
        </Text>
      ))}
      {page?.next_cursor ? <Text dimColor>  … more on the next page (n)</Text> : null}
      <Spacer />
      <KeyHelp
        keys={[
          ['↑/↓', 'select'],
          ['Enter', 'details'],
          ['/', 'search'],
          ['n/p', 'next/previous page'],
          ['a', 'add client'],
          ['l', 'audit log'],
          ['t', 'initial access tokens'],
          ['r', 'registration policies'],
          ['u', 'users'],
          ['q', 'quit'],
        ]}
      />
    </Box>
  );
}

/** Cuts or pads text to exactly `width` columns, keeping one column of space at the end. */
function pad(text: string, width: number): string {
  const room = width - 1;
  const cut = text.length > room ? `${text.slice(0, room - 1)}…` : text;
  return cut.padEnd(width);
}
