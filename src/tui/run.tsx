import { render } from 'ink';
import type { AdminApi } from '../admin-client/types.js';
import { App } from './app.js';

const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';

/**
 * `oidc-registrar tui`: the client screens full-screen, in the terminal's alternate screen buffer,
 * so that quitting (q, or Ctrl+C) gives the shell back as it was. Resolves once the TUI has quit.
 */
export async function runTui(
  api: AdminApi,
  io: { stdin?: NodeJS.ReadStream; stdout?: NodeJS.WriteStream } = {},
): Promise<void> {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  if (!stdin.isTTY || !stdout.isTTY) throw new Error('the TUI needs a terminal: run it with stdin and stdout on a TTY');
  stdout.write(ENTER_ALTERNATE_SCREEN);
  try {
    const instance = render(<App api={api} fullScreen />, { stdin, stdout, exitOnCtrlC: true });
    await instance.waitUntilExit();
  } finally {
    stdout.write(LEAVE_ALTERNATE_SCREEN);
  }
}
