import { expect } from 'vitest';

/** What a terminal sends for each key, as ink reads it. */
export const KEY = {
  enter: '\r',
  escape: '\u001B',
  tab: '\t',
  shiftTab: '\u001B[Z',
  up: '\u001B[A',
  down: '\u001B[B',
  right: '\u001B[C',
  left: '\u001B[D',
  pageUp: '\u001B[5~',
  pageDown: '\u001B[6~',
  backspace: '\u007F',
  home: '\u001B[H',
  end: '\u001B[F',
  space: ' ',
} as const;

interface Rendered {
  stdin: { write(data: string): void };
  lastFrame(): string | undefined;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/**
 * Presses keys one at a time, as a person would: each one its own read, and a pause after, so that
 * a lone Esc is flushed (ink waits a tick to tell it from an escape sequence) and effects run.
 */
export async function press(rendered: Rendered, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    await tick();
    rendered.stdin.write(key);
  }
  await tick();
}

/** Types text one character at a time. */
export async function type(rendered: Rendered, text: string): Promise<void> {
  await press(rendered, ...text);
}

/** Waits until the last frame contains `text` (the screens load asynchronously), returning it. */
export async function waitForText(rendered: Rendered, text: string | RegExp, timeoutMs = 2000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = rendered.lastFrame() ?? '';
    if (typeof text === 'string' ? frame.includes(text) : text.test(frame)) return frame;
    if (Date.now() > deadline) {
      expect.fail(`the screen never showed ${String(text)}; it shows:\n${frame}`);
    }
    await tick();
  }
}
