import { Box, Spacer, Text } from 'ink';
import { useCallback, useEffect, useState } from 'react';
import type { AdminApi, RegistrationPolicyInfo } from '../../admin-client/types.js';
import { describeError, KeyHelp, Message, Title } from '../components/layout.js';
import { editText, TextInput, type TextState } from '../components/text-input.js';
import { useCurrentState, useKeys } from '../components/use-keys.js';
import type { Action } from '../store.js';

export interface PoliciesProps {
  api: AdminApi;
  notice: string | undefined;
  dispatch: (action: Action) => void;
}

type Confirm = { kind: 'delete'; name: string } | undefined;

/**
 * Registration policies: the list (the default marked), the selected one's rules, and the keys
 * to add, edit, make default, clear the default and delete.
 */
export function Policies({ api, notice, dispatch }: PoliciesProps) {
  const [policies, setPolicies] = useState<RegistrationPolicyInfo[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(notice);
  const [selected, setSelected] = useState(0);
  const [confirming, setConfirming, currentConfirm] = useCurrentState<Confirm>(undefined);

  const load = useCallback(() => {
    api.listPolicies().then(
      (answer) => {
        setPolicies(answer.policies);
        setError(undefined);
      },
      (failure: unknown) => setError(describeError(failure)),
    );
  }, [api]);
  useEffect(load, [load]);

  const list = policies ?? [];
  const row = Math.min(selected, Math.max(0, list.length - 1));
  const policy = list[row];

  const act = (work: Promise<unknown>, done: string) =>
    work.then(
      () => {
        setMessage(done);
        load();
      },
      (failure: unknown) => setError(describeError(failure)),
    );

  useKeys((input, key) => {
    const pending = currentConfirm();
    if (pending !== undefined) {
      if (input === 'y') act(api.deletePolicy(pending.name), `policy ${pending.name} deleted`);
      setConfirming(undefined);
      return;
    }
    setError(undefined);
    if (key.escape) dispatch({ type: 'back' });
    else if (input === 'a') dispatch({ type: 'edit-policy' });
    else if (input === 'e' && policy !== undefined) dispatch({ type: 'edit-policy', policyName: policy.name });
    else if (input === 'd' && policy !== undefined) act(api.setDefaultPolicy(policy.name), `${policy.name} is the default policy`);
    else if (input === 'u') act(api.clearDefaultPolicy(), 'no default policy');
    else if (input === 'x' && policy !== undefined) setConfirming({ kind: 'delete', name: policy.name });
    else if (key.upArrow || input === 'k') setSelected(Math.max(0, row - 1));
    else if (key.downArrow || input === 'j') setSelected(Math.min(Math.max(0, list.length - 1), row + 1));
  });

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title>registration policies</Title>
      <Message kind="notice" text={message} />
      <Message kind="error" text={error} />
      {confirming !== undefined ? <Text color="yellow">Delete policy {confirming.name}? y to delete, any other key to keep it.</Text> : null}
      {policies === undefined && error === undefined ? <Text dimColor>loading…</Text> : null}
      {policies !== undefined && list.length === 0 ? <Text dimColor>No registration policies yet: a to add one.</Text> : null}
      {list.map((p, index) => (
        <Text key={p.name} {...(index === row ? { color: 'cyan' } : {})} wrap="truncate-end">
          {index === row ? '› ' : '  '}
          {p.name.padEnd(24)}
          {(p.is_default ? 'default' : '').padEnd(9)}
          {p.description ?? ''}
        </Text>
      ))}
      {policy !== undefined ? (
        <Box flexDirection="column" marginTop={1}>
          <Text bold>rules of {policy.name}</Text>
          <Text>{JSON.stringify(policy.rules, null, 2)}</Text>
        </Box>
      ) : null}
      <Spacer />
      <KeyHelp
        keys={[
          ['↑/↓', 'select'],
          ['a', 'add'],
          ['e', 'edit'],
          ['d', 'make default'],
          ['u', 'clear default'],
          ['x', 'delete'],
          ['Esc', 'back to clients'],
        ]}
      />
    </Box>
  );
}

export interface PolicyFormProps {
  api: AdminApi;
  /** Undefined: a new policy. */
  policyName: string | undefined;
  dispatch: (action: Action) => void;
}

const FIELDS = ['name', 'description', 'rules'] as const;
type Field = (typeof FIELDS)[number];

/**
 * A policy as a form: its name (new policies only), description, and rules as JSON text, which
 * the server validates strictly; its refusal (naming the rule) is shown and nothing is lost.
 */
export function PolicyForm({ api, policyName, dispatch }: PolicyFormProps) {
  const editing = policyName !== undefined;
  const [values, setValues, currentValues] = useCurrentState<Record<Field, TextState>>({
    name: { value: policyName ?? '', cursor: 0 },
    description: { value: '', cursor: 0 },
    rules: { value: '{}', cursor: 2 },
  });
  const [focus, setFocus, currentFocus] = useCurrentState(editing ? 1 : 0);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loaded, setLoaded] = useState(!editing);

  useEffect(() => {
    if (policyName === undefined) return;
    api.getPolicy(policyName).then(
      (policy) => {
        const rules = JSON.stringify(policy.rules);
        setValues({ name: { value: policy.name, cursor: 0 }, description: { value: policy.description ?? '', cursor: 0 }, rules: { value: rules, cursor: rules.length } });
        setLoaded(true);
      },
      (failure: unknown) => setError(describeError(failure)),
    );
  }, [api, policyName, setValues]);

  const save = () => {
    const current = currentValues();
    let rules: unknown;
    try {
      rules = JSON.parse(current.rules.value);
    } catch {
      return setError('rules must be JSON, e.g. {"grant_types":["client_credentials"],"max_clients":10}');
    }
    if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) return setError('rules must be a JSON object');
    const description = current.description.value.trim() === '' ? null : current.description.value.trim();
    const body = { description, rules: rules as Record<string, unknown> };
    const saving = editing ? api.replacePolicy(policyName, body) : api.createPolicy({ ...body, name: current.name.value.trim() });
    saving.then(
      (saved) => dispatch({ type: 'policy-saved', notice: `policy ${saved.name} ${editing ? 'saved' : 'created'}` }),
      (failure: unknown) => setError(describeError(failure)),
    );
  };

  const first = editing ? 1 : 0;
  useKeys((input, key) => {
    const at = currentFocus();
    if (key.escape) dispatch({ type: 'back' });
    else if (key.return) save();
    else if (key.tab || key.downArrow || key.upArrow) {
      const backwards = key.upArrow || (key.tab && key.shift);
      const span = FIELDS.length - first;
      setFocus(first + ((at - first + (backwards ? span - 1 : 1)) % span));
    } else {
      const field = FIELDS[at]!;
      const edited = editText(currentValues()[field], input, key);
      if (edited) setValues({ ...currentValues(), [field]: edited });
    }
  });

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title detail={editing ? policyName : 'new'}>registration policy</Title>
      <Message kind="error" text={error} />
      {!loaded ? <Text dimColor>loading…</Text> : null}
      {FIELDS.map((field, index) => (
        <Box key={field}>
          <Text {...(index === focus ? { color: 'cyan' } : {})}>{field.padEnd(13)}</Text>
          {field === 'name' && editing ? <Text>{values.name.value}</Text> : <TextInput value={values[field].value} cursor={values[field].cursor} focused={index === focus} />}
        </Box>
      ))}
      <Text dimColor>
        rules: redirect_uri_hosts, allow_loopback_redirects, grant_types, response_types, token_endpoint_auth_methods, scopes, max_clients,
        max_clients_per_token, required_fields, access_token_format, access_token_lifetime, client_lifetime
      </Text>
      <Spacer />
      <KeyHelp
        keys={[
          ['Tab/↑/↓', 'field'],
          ['Enter', 'save'],
          ['Esc', 'cancel'],
        ]}
      />
    </Box>
  );
}
