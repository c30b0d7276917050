import { Box, Spacer, Text } from 'ink';
import { useCallback, useEffect, useState } from 'react';
import type { AdminApi, AdminUser, NewUserRequest } from '../../admin-client/types.js';
import { describeError, KeyHelp, Message, Title } from '../components/layout.js';
import { editText, TextInput, type TextState } from '../components/text-input.js';
import { useCurrentState, useKeys, movedFocus } from '../components/use-keys.js';
import type { Action } from '../store.js';

export interface UsersProps {
  api: AdminApi;
  notice: string | undefined;
  dispatch: (action: Action) => void;
}

/** The fields of the create form, in Tab order; the password is drawn masked. */
const FIELDS = [
  ['username', 'username', 'letters, digits, . _ @ + -'],
  ['password', 'password', 'at least 8 characters'],
  ['email', 'e-mail', 'none'],
  ['name', 'name', 'none'],
] as const;
type Field = (typeof FIELDS)[number][0];

/** The request the form stands for; a reason when it cannot be sent. The server checks the rest. */
export function userRequest(values: Readonly<Record<Field, string>>): NewUserRequest | string {
  const username = values.username.trim();
  if (username === '') return 'username is required';
  if (values.password === '') return 'password is required';
  const body: NewUserRequest = { username, password: values.password };
  if (values.email.trim() !== '') body.email = values.email.trim();
  if (values.name.trim() !== '') body.name = values.name.trim();
  return body;
}

const empty = (): TextState => ({ value: '', cursor: 0 });
const emptyForm = (): Record<Field, TextState> => ({ username: empty(), password: empty(), email: empty(), name: empty() });

/** A masked field: one dot a character, the cursor where it is. */
const masked = (state: TextState): TextState => ({ value: '•'.repeat(state.value.length), cursor: state.cursor });

type Mode =
  | { kind: 'list' }
  | { kind: 'create'; focus: number }
  | { kind: 'password'; user: AdminUser }
  | { kind: 'confirm-delete'; user: AdminUser };

const pad = (text: string, width: number) => (text.length >= width ? `${text.slice(0, width - 2)}… ` : text.padEnd(width));

/**
 * Local user accounts: the list, creating one (password masked), switching one off and on,
 * setting its password, and deleting it after y. The password is sent once and never drawn.
 */
export function Users({ api, notice, dispatch }: UsersProps) {
  const [users, setUsers] = useState<AdminUser[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(notice);
  const [selected, setSelected] = useState(0);
  const [mode, setMode, currentMode] = useCurrentState<Mode>({ kind: 'list' });
  const [form, setForm, currentForm] = useCurrentState<Record<Field, TextState>>(emptyForm);
  const [password, setPassword, currentPassword] = useCurrentState<TextState>(empty);

  const load = useCallback(() => {
    api.listUsers({ limit: 200 }).then(
      (page) => {
        setUsers(page.users);
        setError(undefined);
      },
      (failure: unknown) => setError(describeError(failure)),
    );
  }, [api]);
  useEffect(load, [load]);

  const list = users ?? [];
  const row = Math.min(selected, Math.max(0, list.length - 1));
  const chosen = list[row];

  /** Runs a change; on success shows `done`, reloads and returns to the list. */
  const run = (change: Promise<unknown>, done: string) => {
    change.then(
      () => {
        setError(undefined);
        setMessage(done);
        setMode({ kind: 'list' });
        load();
      },
      (failure: unknown) => setError(describeError(failure)),
    );
  };

  const create = () => {
    const values = Object.fromEntries(FIELDS.map(([name]) => [name, currentForm()[name].value])) as Record<Field, string>;
    const body = userRequest(values);
    if (typeof body === 'string') return setError(body);
    run(
      api.createUser(body).then(() => setForm(emptyForm())),
      `user ${body.username} created`,
    );
  };

  useKeys((input, key) => {
    const current = currentMode();
    if (current.kind === 'confirm-delete') {
      if (input === 'y') run(api.deleteUser(current.user.id), `user ${current.user.username} deleted`);
      else setMode({ kind: 'list' });
      return;
    }
    if (current.kind === 'password') {
      if (key.escape) {
        setPassword(empty());
        setMode({ kind: 'list' });
      } else if (key.return) {
        const value = currentPassword().value;
        if (value === '') return setError('password is required');
        run(api.setUserPassword(current.user.id, value).then(() => setPassword(empty())), `password set for ${current.user.username}`);
      } else {
        const edited = editText(currentPassword(), input, key);
        if (edited) setPassword(edited);
      }
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
    } else if (input === 'd' && chosen !== undefined) {
      const { id, username, disabled } = chosen;
      run(disabled ? api.enableUser(id) : api.disableUser(id), `user ${username} ${disabled ? 'enabled' : 'disabled'}`);
    } else if (input === 'p' && chosen !== undefined) {
      setError(undefined);
      setPassword(empty());
      setMode({ kind: 'password', user: chosen });
    } else if (input === 'x' && chosen !== undefined) setMode({ kind: 'confirm-delete', user: chosen });
    else if (key.upArrow || input === 'k') setSelected(Math.max(0, row - 1));
    else if (key.downArrow || input === 'j') setSelected(Math.min(Math.max(0, list.length - 1), row + 1));
  });

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title detail="sign-in comes in a later release">users</Title>
      <Message kind="notice" text={message} />
      <Message kind="error" text={error} />
      {mode.kind === 'create' ? (
        <Box flexDirection="column" borderStyle="round" paddingX={1}>
          <Text bold>new user</Text>
          {FIELDS.map(([name, label, placeholder], index) => {
            const state = name === 'password' ? masked(form[name]) : form[name];
            return (
              <Box key={name}>
                <Text {...(index === mode.focus ? { color: 'cyan' } : {})}>{label.padEnd(10)}</Text>
                <TextInput value={state.value} cursor={state.cursor} focused={index === mode.focus} placeholder={placeholder} />
              </Box>
            );
          })}
        </Box>
      ) : null}
      {mode.kind === 'password' ? (
        <Box borderStyle="round" paddingX={1}>
          <Text color="cyan">new password for {mode.user.username}: </Text>
          <TextInput {...masked(password)} focused placeholder="at least 8 characters" />
        </Box>
      ) : null}
      {mode.kind === 'confirm-delete' ? <Text color="yellow">Delete user {mode.user.username} for good? y to delete, any other key to keep it. [y/N]</Text> : null}
      <Text bold>
        {'  '}
        {pad('USERNAME', 20)}
        {pad('E-MAIL', 28)}
        {pad('NAME', 22)}
        STATUS
      </Text>
      {users === undefined && error === undefined ? <Text dimColor>loading…</Text> : null}
      {users !== undefined && list.length === 0 ? <Text dimColor>No users yet: c to create one.</Text> : null}
      {list.map((user, index) => (
        <Text key={user.id} {...(index === row ? { color: 'cyan' } : {})} wrap="truncate-end">
          {index === row ? '› ' : '  '}
          {pad(user.username, 20)}
          {pad(user.email ?? '-', 28)}
          {pad(user.name ?? '-', 22)}
          <Text color={user.disabled ? 'yellow' : 'green'}>{user.disabled ? 'disabled' : 'enabled'}</Text>
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
            : mode.kind === 'password'
              ? [
                  ['Enter', 'set'],
                  ['Esc', 'cancel'],
                ]
              : [
                  ['↑/↓', 'select'],
                  ['c', 'create'],
                  ['d', 'disable/enable'],
                  ['p', 'set password'],
                  ['x', 'delete'],
                  ['Esc', 'back to clients'],
                ]
        }
      />
    </Box>
  );
}
