import { useInput, type Key } from 'ink';
import { useCallback, useLayoutEffect, useRef, useState } from 'react';

/**
 * `useInput` whose handler is the one of the last commit. ink subscribes each render's handler in
 * a passive effect, so a key arriving before that effect ran (fast typing, a busy machine) went to
 * the previous render's handler and its stale state. Here one listener stays subscribed and calls
 * the handler that React last committed, once for each key of the input (see splitKeys).
 */
export function useKeys(handler: (input: string, key: Key) => void): void {
  const latest = useRef(handler);
  useLayoutEffect(() => {
    latest.current = handler;
  });
  const listener = useCallback((input: string, key: Key) => {
    for (const [part, partKey] of splitKeys(input, key)) latest.current(part, partKey);
  }, []);
  useInput(listener);
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * ink splits what it reads at escape sequences only: text and control keys that arrive in one
 * read ("abc" then Enter from a fast typist or `tmux send-keys abc Enter`, two Tabs in a row)
 * come as one input that is neither text nor a key, and were lost. This splits such an input
 * into its runs of text and its control keys, each with the Key ink would have given it alone.
 */
export function splitKeys(input: string, key: Key): [string, Key][] {
  if (input.length <= 1 || !CONTROL.test(input)) return [[input, key]];
  const none: Key = { ...key, tab: false, return: false, backspace: false, delete: false, ctrl: false, shift: false, meta: false };
  return (input.match(/[\u0000-\u001f\u007f]|[^\u0000-\u001f\u007f]+/g) ?? []).map((part): [string, Key] => {
    if (!CONTROL.test(part)) return [part, none];
    if (part === '\t') return ['', { ...none, tab: true }];
    if (part === '\r' || part === '\n') return ['', { ...none, return: true }];
    if (part === '\u007f') return ['', { ...none, delete: true }];
    if (part === '\b') return ['', { ...none, backspace: true }];
    // Ctrl+letter: ink reports the letter with ctrl set
    return [String.fromCharCode(part.charCodeAt(0) + 96), { ...none, ctrl: true }];
  });
}

/**
 * State that a key handler can read back at once. React renders updates a microtask later, but
 * ink hands over every key of one read (a paste, `Tab` and text sent together) in a single
 * synchronous loop: a handler reading its render's state would see none of the earlier keys'
 * changes. `get()` returns the value the last `set` gave, whether rendered yet or not.
 */
export function useCurrentState<T>(initial: T | (() => T)): [T, (next: T | ((current: T) => T)) => void, () => T] {
  const [value, setValue] = useState(initial);
  const current = useRef(value);
  const set = useCallback((next: T | ((current: T) => T)) => {
    current.current = typeof next === 'function' ? (next as (current: T) => T)(current.current) : next;
    setValue(current.current);
  }, []);
  const get = useCallback(() => current.current, []);
  return [value, set, get];
}

/**
 * Where the focus of a form of `count` fields goes on `key`: Tab and Down to the next field,
 * Shift+Tab and Up to the previous one, wrapping round; undefined for any other key.
 */
export function movedFocus(focus: number, count: number, key: Key): number | undefined {
  if ((key.tab && !key.shift) || key.downArrow) return (focus + 1) % count;
  if ((key.tab && key.shift) || key.upArrow) return (focus + count - 1) % count;
  return undefined;
}
