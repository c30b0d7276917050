import { Box, Spacer, Text } from 'ink';
import { useEffect, useState } from 'react';
import { AdminApiError, type AdminApi, type AdminClient } from '../../admin-client/types.js';
import { createBody, emptyForm, fieldNamedIn, FORM_SECTIONS, formFromClient, patchBody, type FormField } from '../client-form-model.js';
import { describeError, KeyHelp, Message, Title } from '../components/layout.js';
import { TextInput } from '../components/text-input.js';
import { useCurrentState, useKeys } from '../components/use-keys.js';
import { CANCEL, firstFieldOf, formKeyPress, formState, SAVE, withErrors, type FormState } from '../form-state.js';
import type { Action } from '../store.js';

export type ClientFormProps = {
  api: AdminApi;
  dispatch: (action: Action) => void;
} & ({ mode: 'add' } | { mode: 'edit'; clientId: string });

const LABEL_WIDTH = 28;

/**
 * "Add client" (POST) and "Edit client" (a merge PATCH of the fields changed), one section of the
 * form on screen at a time. The server decides what is valid: its 400 answers are shown beside the
 * field their description names, anything else above the form.
 */
export function ClientForm(props: ClientFormProps) {
  const { api, dispatch } = props;
  const clientId = props.mode === 'edit' ? props.clientId : undefined;
  const [original, setOriginal] = useState<AdminClient | undefined>(undefined);
  const [form, setForm, currentForm] = useCurrentState<FormState>(() => formState(emptyForm()));
  const [topError, setTopError] = useState<string | undefined>(undefined);
  const [saving, setSaving, isSaving] = useCurrentState(false);

  useEffect(() => {
    if (clientId === undefined) return;
    let current = true;
    api.getClient(clientId).then(
      (client) => {
        if (!current) return;
        setOriginal(client);
        setForm(formState(formFromClient(client)));
      },
      (failure: unknown) => current && setTopError(describeError(failure)),
    );
    return () => {
      current = false;
    };
  }, [api, clientId, setForm]);

  const loading = clientId !== undefined && original === undefined;

  const refused = (errors: Record<string, string>) => setForm((state) => withErrors(state, errors));

  const submit = (call: () => Promise<void>) => {
    setSaving(true);
    setForm((state) => ({ ...state, errors: {} }));
    call().catch((failure: unknown) => {
      setSaving(false);
      const field = failure instanceof AdminApiError && failure.status === 400 ? fieldNamedIn(failure.description) : undefined;
      if (field !== undefined && failure instanceof AdminApiError) refused({ [field]: failure.description });
      else setTopError(describeError(failure));
    });
  };

  const save = ({ values }: FormState) => {
    setTopError(undefined);
    if (props.mode === 'add') {
      const { body, errors } = createBody(values);
      if (Object.keys(errors).length > 0) return refused(errors);
      submit(async () => {
        const created = await api.createClient(body);
        const secrets = {
          ...(created.client_secret === undefined ? {} : { client_secret: created.client_secret }),
          registration_access_token: created.registration_access_token,
        };
        dispatch({ type: 'created', clientId: created.client_id, secrets });
      });
    } else if (original) {
      const { patch, errors } = patchBody(original, values);
      if (Object.keys(errors).length > 0) return refused(errors);
      if (Object.keys(patch).length === 0) return dispatch({ type: 'saved', clientId: props.clientId, notice: 'nothing changed' });
      submit(async () => {
        await api.patchClient(props.clientId, patch);
        dispatch({ type: 'saved', clientId: props.clientId, notice: `saved: ${Object.keys(patch).join(', ')}` });
      });
    }
  };

  useKeys((input, key) => {
    if (isSaving()) return;
    if (loading && !key.escape) return;
    const next = formKeyPress(currentForm(), input, key);
    if (next === 'cancel') dispatch({ type: 'back' });
    else if (next === 'save') save(currentForm());
    else setForm(next);
  });

  const { values, focus, section, cursor, errors } = form;
  const shown = FORM_SECTIONS[section]!;
  const offset = firstFieldOf(section);
  const sectionHasError = (index: number) => FORM_SECTIONS[index]!.fields.some((field) => errors[field.name] !== undefined);

  return (
    <Box flexDirection="column" flexGrow={1}>
      <Title detail={clientId}>{props.mode === 'add' ? 'add client' : 'edit client'}</Title>
      <Box flexWrap="wrap">
        {FORM_SECTIONS.map((each, index) => (
          <Box key={each.title} marginRight={2}>
            <Text {...(index === section ? { inverse: true, bold: true } : { dimColor: true })}>
              {` ${index + 1} ${each.title}${sectionHasError(index) ? ' !' : ''} `}
            </Text>
          </Box>
        ))}
      </Box>
      <Message kind="error" text={topError} />
      {Object.keys(errors).length > 0 && topError === undefined ? (
        <Message kind="error" text={`refused: see ${Object.keys(errors).join(', ')}`} />
      ) : null}
      {loading && topError === undefined ? <Text dimColor>loading…</Text> : null}
      <Box flexDirection="column" marginTop={1}>
        <Text bold underline>
          {shown.title}
        </Text>
        {shown.fields.map((field, index) => (
          <FieldRow
            key={field.name}
            field={field}
            value={values[field.name] ?? ''}
            cursor={cursor}
            focused={focus === offset + index}
            error={errors[field.name]}
          />
        ))}
      </Box>
      <Box marginTop={1}>
        <Text {...(focus === SAVE ? { inverse: true, bold: true } : {})}>{' [ Save ] '}</Text>
        <Text> </Text>
        <Text {...(focus === CANCEL ? { inverse: true, bold: true } : {})}>{' [ Cancel ] '}</Text>
        {saving ? <Text dimColor> saving…</Text> : null}
      </Box>
      <Spacer />
      <KeyHelp
        keys={[
          ['Tab/Shift-Tab ↑/↓', 'move'],
          ['PgUp/PgDn', 'section'],
          ['Enter on Save', 'save'],
          ['Esc', 'cancel'],
        ]}
      />
    </Box>
  );
}

interface FieldRowProps {
  field: FormField;
  value: string;
  cursor: number;
  focused: boolean;
  error: string | undefined;
}

function FieldRow({ field, value, cursor, focused, error }: FieldRowProps) {
  let shown;
  if (field.kind === 'choice') shown = <Text>{focused ? `‹ ${value || '(default)'} ›` : value || '(default)'}</Text>;
  else if (field.kind === 'flag') shown = <Text>{focused ? `‹ ${value} ›` : value}</Text>;
  else shown = <TextInput value={value} cursor={cursor} focused={focused} />;
  return (
    <Box flexDirection="column">
      <Box>
        <Box width={LABEL_WIDTH} flexShrink={0}>
          <Text {...(focused ? { color: 'cyan', bold: true } : {})}>
            {focused ? '› ' : '  '}
            {field.name}
          </Text>
        </Box>
        <Box flexGrow={1}>{shown}</Box>
      </Box>
      {focused ? (
        <Box marginLeft={LABEL_WIDTH}>
          <Text dimColor>{field.hint}</Text>
        </Box>
      ) : null}
      {error !== undefined ? (
        <Box marginLeft={LABEL_WIDTH}>
          <Text color="red">✗ {error}</Text>
        </Box>
      ) : null}
    </Box>
  );
}
