import { Box, Spacer, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { AdminApi, AdminClient } from '../../admin-client/types.js';
import { METADATA_FIELD_NAMES } from '../../registration/metadata-fields.js';
import { isoSeconds } from '../client-form-model.js';
import { describeError, KeyHelp, Message, Title } from '../components/layout.js';
import { editText, TextInput, type TextState } from '../components/text-input.js';
import { useCurrentState, useKeys } from '../components/use-keys.js';
import { clientMarks } from './client-list.js';
import type { Action, OneTimeSecrets } from '../store.js';

export interface ClientDetailProps {
  api: AdminApi;
  clientId: string;
  /** Credentials just issued, shown until the operator says they are copied. */
  secrets: OneTimeSecrets | undefined;
  notice: string | undefined;
  height: number;
  dispatch: (action: Action) => void;
}

const FIRST = ['client_id', 'client_name'];
const SETTINGS = [
  'has_client_secret',
  'client_secret_expires_at',
  'access_token_format',
  'access_token_lifetime',
  'expires_at',
  'disabled',
  'admin',
  'resource_server',
  'created_via',
  'created_at',
  'updated_at',
  'last_used_at',
  'client_id_issued_at',
  'registration_client_uri',
];
const TIMES = new Set(['client_id_issued_at', 'created_at', 'updated_at', 'last_used_at', 'expires_at', 'client_secret_expires_at']);

function show(name: string, value: unknown): string {
  if (value === null) return name === 'expires_at' ? 'never' : '—';
  if (name === 'client_secret_expires_at' && value === 0) return 'never';
  if (TIMES.has(name) && typeof value === 'number') return isoSeconds(value);
  if (name === 'access_token_lifetime' && typeof value === 'number') return `${value} s`;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(', ');
  if (name === 'jwks' && typeof value === 'object' && Array.isArray((value as { keys?: unknown }).keys)) {
    const keys = (value as { keys: Record<string, unknown>[] }).keys;
    const each = keys.map((jwk) => [jwk.kid, jwk.kty, jwk.use, jwk.alg].filter((part) => typeof part === 'string').join(' '));
    return `${keys.length} key${keys.length === 1 ? '' : 's'}: ${each.join('; ')}`;
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Every field of a client as label and text: identity, then metadata in the registry's order, then settings. */
export function detailLines(client: AdminClient): [string, string][] {
  const order = [...FIRST, ...METADATA_FIELD_NAMES.filter((name) => !FIRST.includes(name))];
  const rest = Object.keys(client)
    .filter((name) => !order.includes(name) && !SETTINGS.includes(name))
    .sort();
  return [...order, ...rest, ...SETTINGS]
    .filter((name) => client[name] !== undefined)
    .map((name) => [name, show(name, client[name])]);
}

/** 'grace': after y to a rotation, the grace period is typed. */
type Confirm = 'delete' | 'rotate' | 'grace';

/**
 * The grace period typed after y to a rotation, as the seconds to send: undefined for none (empty),
 * or an error for text that is not a whole number. Its range is the server's to check.
 */
export function readGracePeriod(text: string): { seconds: number | undefined } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { seconds: undefined };
  return /^\d+$/.test(trimmed) ? { seconds: Number(trimmed) } : { error: `grace period: "${trimmed}" is not a whole number of seconds` };
}

/**
 * Until when the previous secret keeps working after a rotation with `seconds` of grace: never
 * beyond the old secret's own expiry (as the server does), nothing for no grace period.
 */
export function previousSecretUntil(client: AdminClient, seconds: number | undefined, now: number): number | undefined {
  if (seconds === undefined || seconds === 0) return undefined;
  const ownExpiry = client.client_secret_expires_at;
  const until = ownExpiry !== undefined && ownExpiry !== 0 ? Math.min(now + seconds, ownExpiry) : now + seconds;
  return until > now ? until : undefined;
}

export function ClientDetail({ api, clientId, secrets, notice, height, dispatch }: ClientDetailProps) {
  const [client, setClient] = useState<AdminClient | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(notice);
  const [confirm, setConfirm, currentConfirm] = useCurrentState<Confirm | undefined>(undefined);
  const [busy, setBusy, isBusy] = useCurrentState(false);
  const [grace, setGrace, currentGrace] = useCurrentState<TextState>({ value: '', cursor: 0 });
  const [scroll, setScroll] = useState(0);

  useEffect(() => {
    let current = true;
    api.getClient(clientId).then(
      (answer) => current && setClient(answer),
      (failure: unknown) => current && setError(describeError(failure)),
    );
    return () => {
      current = false;
    };
  }, [api, clientId]);

  useEffect(() => setMessage(notice), [notice]);

  /** Runs one admin API call; its answer replaces the client shown. */
  const act = (call: () => Promise<unknown>, done: (answer: unknown) => void) => {
    setBusy(true);
    setError(undefined);
    setMessage(undefined);
    call().then(
      (answer) => {
        setBusy(false);
        done(answer);
      },
      (failure: unknown) => {
        setBusy(false);
        setError(describeError(failure));
      },
    );
  };

  const lines = client ? detailLines(client) : [];
  // what is left beside the title, messages, the secrets panel and the key help
  const visible = Math.max(3, height - 10 - (secrets ? 6 + (secrets.previous_secret_until !== undefined ? 1 : 0) : 0));
  const maxScroll = Math.max(0, lines.length - visible);

  useKeys((input, key) => {
    if (isBusy()) return;
    if (secrets) {
      if (key.return || key.escape) dispatch({ type: 'secrets-seen' });
      return;
    }
    const confirm = currentConfirm();
    if (confirm === 'grace') {
      if (key.escape) {
        setConfirm(undefined);
        setError(undefined);
        setMessage('secret not rotated');
        return;
      }
      if (!key.return) {
        const edited = editText(currentGrace(), input, key);
        if (edited) setGrace(edited);
        return;
      }
      const read = readGracePeriod(currentGrace().value);
      if ('error' in read) {
        setError(read.error);
        return;
      }
      setConfirm(undefined);
      const before = client;
      act(
        () => api.rotateSecret(clientId, read.seconds),
        (answer) => {
          const { client_secret: clientSecret, ...rotated } = answer as AdminClient & { client_secret: string };
          const until = before ? previousSecretUntil(before, read.seconds, Math.floor(Date.now() / 1000)) : undefined;
          setClient(rotated as AdminClient);
          dispatch({ type: 'secret-rotated', clientId, clientSecret, ...(until !== undefined ? { previousSecretUntil: until } : {}) });
        },
      );
      return;
    }
    if (confirm) {
      setConfirm(undefined);
      if (input !== 'y' && input !== 'Y') {
        setMessage(confirm === 'delete' ? 'not deleted' : 'secret not rotated');
        return;
      }
      if (confirm === 'delete') act(() => api.deleteClient(clientId), () => dispatch({ type: 'deleted', clientId }));
      else {
        setGrace({ value: '', cursor: 0 });
        setConfirm('grace');
      }
      return;
    }
    if (key.escape || input === 'q') dispatch({ type: 'back' });
    else if (key.upArrow || input === 'k') setScroll((at) => Math.max(0, at - 1));
    else if (key.downArrow || input === 'j') setScroll((at) => Math.min(maxScroll, at + 1));
    else if (!client) return;
    else if (input === 'e') dispatch({ type: 'edit', clientId });
    else if (input === 'l') dispatch({ type: 'audit', clientId });
    else if (input === 'x') setConfirm('delete');
    else if (input === 'r') setConfirm('rotate');
    else if (input === 'd') {
      const enable = client.disabled;
      act(
        () => (enable ? api.enableClient(clientId) : api.disableClient(clientId)),
        (answer) => {
          setClient(answer as AdminClient);
          setMessage(enable ? 'client enabled' : 'client disabled: it can no longer authenticate');
        },
      );
    }
  });

  const name = client?.client_name;
  const marks = client ? clientMarks(client) : [];
  const shown = lines.slice(Math.min(scroll, maxScroll), Math.min(scroll, maxScroll) + visible);
  const labelWidth = Math.min(36, 2 + Math.max(0, ...lines.map(([label]) => label.length)));

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title detail={name ?? clientId}>client</Title>
      {secrets ? <SecretsPanel secrets={secrets} /> : null}
      <Message kind="notice" text={message} />
      <Message kind="error" text={error} />
      {confirm === 'delete' ? (
        <Text color="red" bold>
          Delete client {clientId}{name ? ` (${name})` : ''}? It cannot be undone. y/N
        </Text>
      ) : null}
      {confirm === 'rotate' ? (
        <Text color="yellow" bold>
          Rotate the client secret of {clientId}? y/N
        </Text>
      ) : null}
      {confirm === 'grace' ? (
        <Box flexDirection="column">
          <Text color="yellow" bold>
            Grace period: how long the current secret keeps working, in seconds (empty: it stops working now)
          </Text>
          <Box>
            <Text bold>grace period </Text>
            <TextInput value={grace.value} cursor={grace.cursor} focused />
          </Box>
        </Box>
      ) : null}
      {busy ? <Text dimColor>working…</Text> : null}
      {client === undefined && error === undefined ? <Text dimColor>loading…</Text> : null}
      {marks.length > 0 ? <Text color="yellow">{marks.join(' · ')}</Text> : null}
      {scroll > 0 && maxScroll > 0 ? <Text dimColor>  ↑ more</Text> : null}
      {shown.map(([label, value]) => (
        <Box key={label}>
          <Box width={labelWidth} flexShrink={0}>
            <Text bold>{label}</Text>
          </Box>
          <Text>{value}</Text>
        </Box>
      ))}
      {Math.min(scroll, maxScroll) < maxScroll ? <Text dimColor>  ↓ more</Text> : null}
      <Spacer />
      <KeyHelp
        keys={
          secrets
            ? [['Enter', 'I have copied it']]
            : confirm === 'grace'
              ? [['Enter', 'rotate'], ['Esc', 'cancel']]
              : client === undefined
              ? [['Esc', 'back']]
              : [
                ['e', 'edit'],
                ['d', client.disabled ? 'enable' : 'disable'],
                ['r', 'rotate secret'],
                ['x', 'delete'],
                ['l', 'audit log'],
                ['↑/↓', 'scroll'],
                ['Esc', 'back'],
              ]
        }
      />
    </Box>
  );
}

/** Credentials the server has just issued and will never show again. */
function SecretsPanel({ secrets }: { secrets: OneTimeSecrets }) {
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1} marginBottom={1}>
      <Text color="yellow" bold>
        ⚠ Copy this now: it will not be shown again.
      </Text>
      {secrets.client_secret !== undefined ? (
        <Text>
          <Text bold>client_secret </Text>
          {secrets.client_secret}
        </Text>
      ) : null}
      {secrets.registration_access_token !== undefined ? (
        <Text>
          <Text bold>registration_access_token </Text>
          {secrets.registration_access_token}
        </Text>
      ) : null}
      {secrets.previous_secret_until !== undefined ? (
        <Text>The previous secret keeps working until {isoSeconds(secrets.previous_secret_until)}.</Text>
      ) : null}
    </Box>
  );
}
