import { Box, Spacer, Text } from 'ink';
import { useCallback, useEffect, useState } from 'react';
import type { AdminApi, InitialAccessTokenInfo, NewInitialAccessTokenRequest } from '../../admin-client/types.js';
import { describeError, KeyHelp, Message, Title } from '../components/layout.js';
import { editText, TextInput, type TextState } from '../components/text-input.js';
import { useCurrentState, useKeys, movedFocus } from '../components/use-keys.js';
import type { Action } from '../store.js';

export interface InitialAccessTokensProps {
  api: AdminApi;
  notice: string | undefined;
  dispatch: (action: Action) => void;
}

/** The fields of the create form, in Tab order. */
const FIELDS = [
  ['max_uses', 'max uses', 'no limit'],
  ['expires_in', 'expires in', 'never (e.g. 7d, 12h, 3600)'],
  ['policy', 'policy', 'the default policy'],
  ['description', 'description', ''],
] as const;
type Field = (typeof FIELDS)[number][0];

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** The request the form stands for; a reason when a field cannot be read. */
export function tokenRequest(values: Readonly<Record<Field, string>>): NewInitialAccessTokenRequest | string {
  const body: NewInitialAccessTokenRequest = {};
  const uses = values.max_uses.trim();
  if (uses !== '') {
    if (!/^\d+$/.test(uses) || Number(uses) < 1) return 'max uses must be a whole number above 0 (or empty: no limit)';
    body.max_uses = Number(uses);
  }
  const expires = values.expires_in.trim();
  if (expires !== '') {
    const match = /^(\d+)([smhd]?)$/.exec(expires);
    if (match === null) return 'expires in must be seconds, or a number with s, m, h or d (7d)';
    body.expires_in = Number(match[1]) * UNIT_SECONDS[match[2] === '' ? 's' : match[2]!]!;
  }
  if (values.policy.trim() !== '') body.policy = values.policy.trim();
  if (values.description.trim() !== '') body.description = values.description.trim();
  return body;
}

const formatTime = (seconds: number | null) => (seconds === null ? 'never' : new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' '));
const usesOf = (t: InitialAccessTokenInfo) => (t.max_uses === null ? `${t.uses}` : `${t.uses}/${t.max_uses}`);
const leftOf = (t: InitialAccessTokenInfo) => (t.uses_left === null ? 'unlimited' : String(t.uses_left));

type Mode = { kind: 'list' } | { kind: 'create'; focus: number } | { kind: 'confirm-revoke'; id: string } | { kind: 'created'; id: string; token: string };

const emptyForm = (): Record<Field, TextState> => ({
  max_uses: { value: '', cursor: 0 },
  expires_in: { value: '', cursor: 0 },
  policy: { value: '', cursor: 0 },
  description: { value: '', cursor: 0 },
});

/**
 * Initial access tokens: the list with the uses each has left, creating one (its token shown
 * once, then gone from the screen), and revoking one.
 */
export function InitialAccessTokens({ api, notice, dispatch }: InitialAccessTokensProps) {
  const [tokens, setTokens] = useState<InitialAccessTokenInfo[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(notice);
  const [selected, setSelected] = useState(0);
  const [mode, setMode, currentMode] = useCurrentState<Mode>({ kind: 'list' });
  const [form, setForm, currentForm] = useCurrentState<Record<Field, TextState>>(emptyForm);

  const load = useCallback(() => {
    api.listInitialAccessTokens().then(
      (answer) => {
        setTokens(answer.initial_access_tokens);
        setError(undefined);
      },
      (failure: unknown) => setError(describeError(failure)),
    );
  }, [api]);
  useEffect(load, [load]);

  const list = tokens ?? [];
  const row = Math.min(selected, Math.max(0, list.length - 1));

  const create = () => {
    const values = Object.fromEntries(FIELDS.map(([name]) => [name, currentForm()[name].value])) as Record<Field, string>;
    const body = tokenRequest(values);
    if (typeof body === 'string') return setError(body);
    api.createInitialAccessToken(body).then(
      (created) => {
        setError(undefined);
        setForm(emptyForm());
        setMode({ kind: 'created', id: created.id, token: created.token });
        load();
      },
      (failure: unknown) => setError(describeError(failure)),
    );
  };

  useKeys((input, key) => {
    const current = currentMode();
    if (current.kind === 'created') {
      // the token leaves the screen with the next key: it is never shown again
      setMode({ kind: 'list' });
      setMessage(`initial access token ${current.id} created`);
      return;
    }
    if (current.kind === 'confirm-revoke') {
      if (input === 'y') {
        api.revokeInitialAccessToken(current.id).then(
          () => {
            setMessage(`initial access token ${current.id} revoked`);
            load();
          },
          (failure: unknown) => setError(describeError(failure)),
        );
      }
      setMode({ kind: 'list' });
      return;
    }
    if (current.kind === 'create') {
      const field = FIELDS[current.focus]![0];
      if (key.escape) setMode({ kind: 'list' });
      else if (key.return) create();
      else {
        const focus = movedFocus(current.focus, FIELDS.length, key);
        const edited = focus === undefined ? editText(currentForm()[field], input, key) : undefined;
        if (focus !== undefined) setMode({ kind: 'create', focus });
        else if (edited) setForm({ ...currentForm(), [field]: edited });
      }
      return;
    }
    if (key.escape) dispatch({ type: 'back' });
    else if (input === 'c') {
      setError(undefined);
      setMode({ kind: 'create', focus: 0 });
    } else if (input === 'x' && list[row] !== undefined) setMode({ kind: 'confirm-revoke', id: list[row]!.id });
    else if (key.upArrow || input === 'k') setSelected(Math.max(0, row - 1));
    else if (key.downArrow || input === 'j') setSelected(Math.min(Math.max(0, list.length - 1), row + 1));
  });

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title detail="RFC 7591 §3">initial access tokens</Title>
      <Message kind="notice" text={message} />
      <Message kind="error" text={error} />
      {mode.kind === 'created' ? (
        <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1}>
          <Text bold>token (shown once; the server keeps only its hash):</Text>
          <Text color="yellow">{mode.token}</Text>
          <Text dimColor>The partner sends it as Authorization: Bearer at POST /register. Any key to go on.</Text>
        </Box>
      ) : null}
      {mode.kind === 'create' ? (
        <Box flexDirection="column" borderStyle="round" paddingX={1}>
          <Text bold>new initial access token</Text>
          {FIELDS.map(([name, label, placeholder], index) => (
            <Box key={name}>
              <Text {...(index === mode.focus ? { color: 'cyan' } : {})}>{label.padEnd(13)}</Text>
              <TextInput value={form[name].value} cursor={form[name].cursor} focused={index === mode.focus} placeholder={placeholder} />
            </Box>
          ))}
        </Box>
      ) : null}
      {mode.kind === 'confirm-revoke' ? <Text color="yellow">Revoke {mode.id}? It registers no more clients. y to revoke, any other key to keep it.</Text> : null}
      <Text bold>
        {'  '}
        {'ID'.padEnd(22)}
        {'STATE'.padEnd(9)}
        {'USES'.padEnd(9)}
        {'LEFT'.padEnd(10)}
        {'POLICY'.padEnd(16)}
        {'EXPIRES'.padEnd(18)}
        DESCRIPTION
      </Text>
      {tokens === undefined && error === undefined ? <Text dimColor>loading…</Text> : null}
      {tokens !== undefined && list.length === 0 ? <Text dimColor>No initial access tokens yet: c to create one.</Text> : null}
      {list.map((t, index) => (
        <Text key={t.id} {...(index === row ? { color: 'cyan' } : {})} wrap="truncate-end">
          {index === row ? '› ' : '  '}
          {t.id.padEnd(22)}
          {t.state.padEnd(9)}
          {usesOf(t).padEnd(9)}
          {leftOf(t).padEnd(10)}
          {(t.policy ?? '(default)').padEnd(16)}
          {formatTime(t.expires_at).padEnd(18)}
          {t.description ?? ''}
        </Text>
      ))}
      <Spacer />
      <KeyHelp
        keys={
          mode.kind === 'create'
            ? [
                ['Tab/↑/↓', 'field'],
                ['Enter', 'create'],
                ['Esc', 'cancel'],
              ]
            : [
                ['↑/↓', 'select'],
                ['c', 'create'],
                ['x', 'revoke'],
                ['Esc', 'back to clients'],
              ]
        }
      />
    </Box>
  );
}
