import type { Command } from 'commander';
import type { ServerKeyInfo } from '../admin-client/types.js';
import { addRemoteOptions, connect, type RemoteOptions } from './options.js';
import { emit, formatTable, formatTime, type Column } from './output.js';

const KEY_COLUMNS: readonly Column<ServerKeyInfo>[] = [
  { header: 'KID', value: (k) => k.kid },
  { header: 'ALG', value: (k) => k.alg },
  { header: 'STATE', value: (k) => k.state },
  { header: 'CREATED', value: (k) => formatTime(k.created_at) },
  { header: 'ACTIVATES', value: (k) => formatTime(k.activates_at) },
];

export function formatKeyTable(keys: readonly ServerKeyInfo[]): string {
  return formatTable(keys, KEY_COLUMNS);
}

/** `keys list` and `keys rotate`: the server's signing keys, through the admin API. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description("the server's token signing keys (admin API)");

  addRemoteOptions(keys.command('list').description('signing keys: pending (published, not signing yet), active, retired')).action(async (options: RemoteOptions) => {
    const { keys: list } = await (await connect(options)).api.listKeys();
    emit(options.json, { keys: list }, () => formatKeyTable(list));
  });

  addRemoteOptions(
    keys
      .command('rotate')
      .description('add a signing key for each algorithm (or --alg only): published at once, signing after SIGNING_KEY_ACTIVATION_DELAY')
      .option('--alg <alg>', 'rotate the key of this algorithm only (one of SIGNING_KEY_ALGS)'),
  ).action(async (options: RemoteOptions & { alg?: string }) => {
    const added = await (await connect(options)).api.rotateKeys(options.alg);
    emit(options.json, added, () => added.keys.map((key) => `added ${key.kid} (${key.alg}): published now, signs from ${formatTime(key.activates_at)}`).join('\n'));
  });
}
