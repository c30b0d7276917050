import type { Key } from 'ink';
import { describe, expect, it } from 'vitest';
import { emptyForm, FORM_FIELDS } from '../../src/tui/client-form-model.js';
import { editText } from '../../src/tui/components/text-input.js';
import { splitKeys } from '../../src/tui/components/use-keys.js';
import { CANCEL, formKeyPress, formState, SAVE, withErrors, type FormState } from '../../src/tui/form-state.js';

const noKey: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};
const key = (pressed: Partial<Key>): Key => ({ ...noKey, ...pressed });
const at = (name: string) => FORM_FIELDS.findIndex((field) => field.name === name);

/** Presses keys in order; each is [input, key]. */
const pressAll = (state: FormState, ...keys: [string, Partial<Key>][]) =>
  keys.reduce<FormState | 'save' | 'cancel'>((current, [input, pressed]) => (typeof current === 'string' ? current : formKeyPress(current, input, key(pressed))), state);

describe('moving through the client form', () => {
  const start = formState(emptyForm());

  it('Tab and ↓ go forward, Shift-Tab and ↑ back, around a ring that ends with Save and Cancel', () => {
    expect(pressAll(start, ['', { tab: true }])).toMatchObject({ focus: 1, section: 0 });
    expect(pressAll(start, ['', { downArrow: true }], ['', { downArrow: true }])).toMatchObject({ focus: 2, section: 1 });
    expect(pressAll(start, ['', { tab: true, shift: true }])).toMatchObject({ focus: CANCEL, section: 0 });
    expect(pressAll(start, ['', { upArrow: true }], ['', { upArrow: true }])).toMatchObject({ focus: SAVE });
  });

  it('PgDn and PgUp jump to the first field of the next or previous section', () => {
    expect(pressAll(start, ['', { pageDown: true }])).toMatchObject({ focus: at('redirect_uris'), section: 1 });
    expect(pressAll(start, ...Array<[string, Partial<Key>]>(9).fill(['', { pageDown: true }]))).toMatchObject({ focus: at('expires_at'), section: 5 });
    expect(pressAll(start, ['', { pageUp: true }])).toMatchObject({ focus: 0, section: 0 });
  });

  it('Enter on a field moves on; on Save it saves, on Cancel it cancels; Esc cancels anywhere', () => {
    expect(pressAll(start, ['', { return: true }])).toMatchObject({ focus: 1 });
    expect(pressAll({ ...start, focus: SAVE }, ['', { return: true }])).toBe('save');
    expect(pressAll({ ...start, focus: CANCEL }, ['', { return: true }])).toBe('cancel');
    expect(pressAll(start, ['', { escape: true }])).toBe('cancel');
  });

  it('choices cycle with ←/→ and space, (default) included; flags toggle', () => {
    const onType = { ...start, focus: at('application_type') };
    expect(pressAll(onType, [' ', {}])).toMatchObject({ values: { application_type: 'web' } });
    expect(pressAll(onType, ['', { leftArrow: true }])).toMatchObject({ values: { application_type: 'native' } });
    expect(pressAll(onType, ['', { rightArrow: true }], ['', { rightArrow: true }], ['', { rightArrow: true }])).toMatchObject({ values: { application_type: '' } });
    expect(pressAll({ ...start, focus: at('admin') }, [' ', {}])).toMatchObject({ values: { admin: 'yes' } });
    expect(pressAll({ ...start, focus: at('admin') }, ['x', {}])).toMatchObject({ values: { admin: 'no' } });
  });

  it('errors focus the first field they name, and editing a field clears its error', () => {
    const refused = withErrors(start, { scope: 'scope x is not offered', redirect_uris: 'redirect_uris[0] ...' });
    expect(refused).toMatchObject({ focus: at('redirect_uris'), section: 1 });
    const edited = pressAll(refused, ['h', {}]) as FormState;
    expect(edited.errors).toEqual({ scope: 'scope x is not offered' });
    expect(edited.values.redirect_uris).toBe('h');
  });
});

describe('editing a line of text', () => {
  const text = { value: 'hello', cursor: 5 };
  it.each([
    ['types at the cursor', { value: 'hello', cursor: 2 }, 'XY', {}, { value: 'heXYllo', cursor: 4 }],
    ['pastes without control characters', text, ' wo\r\nrld', {}, { value: 'hello world', cursor: 11 }],
    ['Backspace deletes before the cursor', text, '', { backspace: true }, { value: 'hell', cursor: 4 }],
    ['DEL (what most terminals send for Backspace) too', text, '', { delete: true }, { value: 'hell', cursor: 4 }],
    ['← and → move', text, '', { leftArrow: true }, { value: 'hello', cursor: 4 }],
    ['Home and Ctrl+A go to the start', text, 'a', { ctrl: true }, { value: 'hello', cursor: 0 }],
    ['Ctrl+E goes to the end', { value: 'hello', cursor: 0 }, 'e', { ctrl: true }, { value: 'hello', cursor: 5 }],
    ['Ctrl+U deletes to the start', { value: 'hello', cursor: 3 }, 'u', { ctrl: true }, { value: 'lo', cursor: 0 }],
  ])('%s', (_, state, input, pressed, expected) => {
    expect(editText(state, input, key(pressed))).toEqual(expected);
  });

  it.each([['Tab', { tab: true }], ['Enter', { return: true }], ['Esc', { escape: true }], ['↑', { upArrow: true }], ['PgDn', { pageDown: true }]])(
    'leaves %s to the screen',
    (_, pressed) => {
      expect(editText(text, '', key(pressed))).toBeUndefined();
    },
  );
});

describe('splitting an input ink read at once', () => {
  it('leaves a single key or plain text alone', () => {
    expect(splitKeys('a', noKey)).toEqual([['a', noKey]]);
    expect(splitKeys('hello world', noKey)).toEqual([['hello world', noKey]]);
    expect(splitKeys('', key({ tab: true }))).toEqual([['', key({ tab: true })]]);
  });

  it('splits text from Tab, Enter, Backspace and Ctrl keys', () => {
    expect(splitKeys('ab\t\tc\r\u007f\u0015', noKey)).toEqual([
      ['ab', noKey],
      ['', key({ tab: true })],
      ['', key({ tab: true })],
      ['c', noKey],
      ['', key({ return: true })],
      ['', key({ delete: true })],
      ['u', key({ ctrl: true })],
    ]);
  });
});
