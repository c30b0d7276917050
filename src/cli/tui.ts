import type { Command } from 'commander';
import { addRemoteOptions, CliExit, connect, type RemoteOptions } from './options.js';

/** `tui`: the full-screen terminal UI, a client of the admin API like every remote command. */
export function registerTuiCommand(program: Command): void {
  addRemoteOptions(
    program.command('tui').description('a full-screen terminal UI for clients: list, search, details, add, edit, disable, rotate, delete'),
  ).action(async (options: RemoteOptions) => {
    if (!process.stdin.isTTY || !process.stdout.isTTY) throw new CliExit(2, 'the TUI needs a terminal (stdin and stdout on a TTY); use the clients commands in scripts');
    const { api } = await connect(options);
    // ink and React load only here: the other commands stay quick to start
    const { runTui } = await import('../tui/run.js');
    await runTui(api);
  });
}
