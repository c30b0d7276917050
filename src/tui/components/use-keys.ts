import { useInput, type Key } from 'ink';
import { useCallback, useLayoutEffect, useRef, useState } from 'react';

/**
 * `useInput` whose handler is the one of the last commit. ink subscribes each render's handler in
 * a passive effect, so a key arriving before that effect ran (fast typing, a busy machine) went to
 * the previous render's handler and its stale state. Here one listener stays subscribed and calls
 * the handler that React last committed.
 */
export function useKeys(handler: (input: string, key: Key) => void): void {
  const latest = useRef(handler);
  useLayoutEffect(() => {
    latest.current = handler;
  });
  const listener = useCallback((input: string, key: Key) => latest.current(input, key), []);
  useInput(listener);
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
