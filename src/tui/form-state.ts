import type { Key } from 'ink';
import { choicesOf, FORM_FIELDS, FORM_SECTIONS, type FormValues } from './client-form-model.js';
import { editText } from './components/text-input.js';

/**
 * Moving through the client form and editing it, key by key: a pure function of the form's
 * state, so that the form screen only draws it and runs what it asks for (save, cancel).
 */

export interface FormState {
  values: FormValues;
  /** The focus ring: the fields in section order, then Save, then Cancel. */
  focus: number;
  /** The section on screen: the focused field's, or the last one while Save or Cancel has focus. */
  section: number;
  /** The text cursor in the focused field. */
  cursor: number;
  /** Messages shown beside fields, by field name. */
  errors: Readonly<Record<string, string>>;
}

export const SAVE = FORM_FIELDS.length;
export const CANCEL = FORM_FIELDS.length + 1;
const STOPS = FORM_FIELDS.length + 2;

export function sectionOf(fieldIndex: number): number {
  let start = 0;
  for (const [index, section] of FORM_SECTIONS.entries()) {
    if (fieldIndex < start + section.fields.length) return index;
    start += section.fields.length;
  }
  return FORM_SECTIONS.length - 1;
}

export const firstFieldOf = (section: number): number => FORM_SECTIONS.slice(0, section).reduce((sum, { fields }) => sum + fields.length, 0);

export function formState(values: FormValues): FormState {
  return { values, focus: 0, section: 0, cursor: (values[FORM_FIELDS[0]!.name] ?? '').length, errors: {} };
}

/** Focus on `stop` (wrapping around the ring), the cursor at the end of the field's text. */
export function focusOn(state: FormState, stop: number): FormState {
  const focus = ((stop % STOPS) + STOPS) % STOPS;
  const field = FORM_FIELDS[focus];
  if (!field) return { ...state, focus };
  return { ...state, focus, section: sectionOf(focus), cursor: (state.values[field.name] ?? '').length };
}

/** The server's (or the form's) errors, by field: shown beside them, the first one focused. */
export function withErrors(state: FormState, errors: Record<string, string>): FormState {
  const first = FORM_FIELDS.findIndex((field) => errors[field.name] !== undefined);
  return first >= 0 ? { ...focusOn(state, first), errors } : { ...state, errors };
}

function setValue(state: FormState, name: string, value: string, cursor = state.cursor): FormState {
  const { [name]: _, ...errors } = state.errors;
  return { ...state, values: { ...state.values, [name]: value }, cursor, errors };
}

/** What a key does to the form: a new state, or the action the screen must run. */
export function formKeyPress(state: FormState, input: string, key: Key): FormState | 'save' | 'cancel' {
  const { focus, section } = state;
  if (key.escape) return 'cancel';
  if (key.tab && key.shift) return focusOn(state, focus - 1);
  if (key.tab || key.downArrow) return focusOn(state, focus + 1);
  if (key.upArrow) return focusOn(state, focus - 1);
  if (key.pageDown) return focusOn(state, firstFieldOf(Math.min(section + 1, FORM_SECTIONS.length - 1)));
  if (key.pageUp) return focusOn(state, firstFieldOf(Math.max(section - 1, 0)));
  if (focus === SAVE || focus === CANCEL) {
    if (key.return) return focus === SAVE ? 'save' : 'cancel';
    if (key.leftArrow || key.rightArrow) return focusOn(state, focus === SAVE ? CANCEL : SAVE);
    return state;
  }
  const field = FORM_FIELDS[focus];
  if (!field) return state;
  if (key.return) return focusOn(state, focus + 1);
  const value = state.values[field.name] ?? '';
  if (field.kind === 'flag') {
    return input === ' ' || key.leftArrow || key.rightArrow ? setValue(state, field.name, value === 'yes' ? 'no' : 'yes') : state;
  }
  if (field.kind === 'choice') {
    const choices = choicesOf(field, value);
    const step = key.leftArrow ? -1 : input === ' ' || key.rightArrow ? 1 : 0;
    if (step === 0) return state;
    return setValue(state, field.name, choices[(choices.indexOf(value) + step + choices.length) % choices.length] ?? '');
  }
  const edited = editText({ value, cursor: state.cursor }, input, key);
  return edited ? setValue(state, field.name, edited.value, edited.cursor) : state;
}
