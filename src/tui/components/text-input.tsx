import { Text, type Key } from 'ink';

/**
 * A one-line text field. The screen that owns it reads the keys (one `useInput` a screen, so that
 * Tab, Esc and the screen's own keys never reach two handlers) and passes them to `editText`;
 * `TextInput` only draws the text and, when focused, the cursor.
 */

export interface TextState {
  value: string;
  /** Position of the cursor, 0..value.length. */
  cursor: number;
}

/** Typed or pasted text without the control characters a terminal may carry along. */
const printable = (input: string) => input.replace(/[\u0000-\u001f\u007f]/g, '');

/**
 * The text after a key press, or undefined when the key is not for a text field (Tab, Enter, Esc,
 * arrows up and down, page keys, other Ctrl combinations): the screen handles those.
 */
export function editText(state: TextState, input: string, key: Key): TextState | undefined {
  const { value } = state;
  const cursor = Math.min(Math.max(state.cursor, 0), value.length);
  if (key.leftArrow) return { value, cursor: Math.max(0, cursor - 1) };
  if (key.rightArrow) return { value, cursor: Math.min(value.length, cursor + 1) };
  if (key.home || (key.ctrl && input === 'a')) return { value, cursor: 0 };
  if (key.end || (key.ctrl && input === 'e')) return { value, cursor: value.length };
  if (key.ctrl && input === 'u') return { value: value.slice(cursor), cursor: 0 };
  // Most terminals send DEL (0x7f) for the Backspace key, which ink reports as `delete`.
  if (key.backspace || key.delete) {
    if (cursor === 0) return { value, cursor };
    return { value: value.slice(0, cursor - 1) + value.slice(cursor), cursor: cursor - 1 };
  }
  if (key.ctrl || key.meta || key.tab || key.return || key.escape || key.upArrow || key.downArrow || key.pageUp || key.pageDown) {
    return undefined;
  }
  const text = printable(input);
  if (text === '') return undefined;
  return { value: value.slice(0, cursor) + text + value.slice(cursor), cursor: cursor + text.length };
}

export interface TextInputProps {
  value: string;
  cursor: number;
  focused: boolean;
  placeholder?: string;
}

export function TextInput({ value, cursor, focused, placeholder }: TextInputProps) {
  if (!focused) {
    return value === '' && placeholder !== undefined ? <Text dimColor>{placeholder}</Text> : <Text>{value}</Text>;
  }
  const at = Math.min(Math.max(cursor, 0), value.length);
  return (
    <Text>
      {value.slice(0, at)}
      <Text inverse>{value[at] ?? ' '}</Text>
      {value.slice(at + 1)}
    </Text>
  );
}
