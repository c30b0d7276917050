import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { adminTokenSource, defaultTokenCacheDir, type AdminTokenSource } from '../admin-client/admin-token.js';
import { readCredentials } from '../admin-client/credentials.js';
import { HttpAdminApi } from '../admin-client/http-admin-api.js';
import type { AdminApi } from '../admin-client/types.js';

/** Ends the command with this exit code: 2 for usage, 1 for a failure; the message goes to stderr. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: 1 | 2,
    message = '',
  ) {
    super(message);
    this.name = 'CliExit';
  }
}

export const usageError = (message: string) => new CliExit(2, message);

/** What every command that talks to the admin API accepts. */
export interface RemoteOptions {
  url?: string;
  credentials?: string;
  json?: boolean;
}

export interface ConfirmOptions {
  yes?: boolean;
}

const DEFAULT_CREDENTIALS_HELP = '$DATA_DIR/admin-credentials.json (DATA_DIR defaults to ./data) when it exists';

/** --url, --credentials and --json, on a command that calls the admin API. */
export function addRemoteOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', "the server's base URL (default: the credentials' issuer)").env('OIDC_REGISTRAR_URL'))
    .addOption(new Option('--credentials <file>', `admin credentials file from \`admin bootstrap\` (default: ${DEFAULT_CREDENTIALS_HELP})`).env('OIDC_REGISTRAR_CREDENTIALS'))
    .addOption(jsonOption());
}

export function jsonOption(): Option {
  return new Option('--json', 'print JSON, for scripts');
}

/** --yes, on a command that destroys or replaces something. */
export function addYesOption(command: Command): Command {
  return command.addOption(new Option('-y, --yes', 'do not ask for confirmation'));
}

/** The credentials file to use: the option (or its variable), else the embedded server's own file. */
export function credentialsFile(option: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (option !== undefined && option !== '') return resolve(option);
  const local = resolve(join(env.DATA_DIR !== undefined && env.DATA_DIR.trim() !== '' ? env.DATA_DIR.trim() : './data', 'admin-credentials.json'));
  if (existsSync(local)) return local;
  throw usageError(
    'no admin credentials: pass --credentials FILE or set OIDC_REGISTRAR_CREDENTIALS (`oidc-registrar admin bootstrap --out FILE` makes one; ' +
      `an embedded server writes ${local} on its first start)`,
  );
}

export interface Connection {
  api: AdminApi;
  tokens: AdminTokenSource;
  url: string;
}

/** The admin API client the command's options point at, with its cached admin token. */
export async function connect(options: RemoteOptions): Promise<Connection> {
  const file = credentialsFile(options.credentials);
  const loaded = await readCredentials(file);
  if ((statSync(file).mode & 0o077) !== 0) {
    process.stderr.write(`oidc-registrar: warning: ${file} is readable by other users; chmod 600 it\n`);
  }
  const fromOption = options.url !== undefined && options.url !== '';
  const url = (fromOption ? options.url! : loaded.credentials.issuer).replace(/\/+$/, '');
  checkServerUrl(url, fromOption ? '--url' : `the issuer in ${file}, used when no --url is given`);
  // the cached token is keyed by this URL too: a token obtained from one server is never sent to another
  const tokens = adminTokenSource({ loaded, url, cacheDir: defaultTokenCacheDir() });
  return { api: new HttpAdminApi({ url, tokens }), tokens, url };
}

/** 127.0.0.0/8 and ::1 as the URL parser writes them (it already turns 127.1 or 0x7f.0.0.1 into 127.0.0.1). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * The admin bearer token goes to this URL: https, or plain http to a loopback host only, where it
 * never crosses a network in clear. `source` names where the URL came from, for the message.
 */
export function checkServerUrl(url: string, source: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.hostname === '') {
    throw usageError(`--url must be an http(s) URL, got "${url}"${source === '--url' ? '' : ` (${source})`}`);
  }
  if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname)) {
    throw usageError(
      `--url must use https unless its host is loopback (localhost, 127.0.0.0/8, [::1]): ${url}${source === '--url' ? '' : ` (${source})`} ` +
        'would carry the admin token in clear',
    );
  }
}

/**
 * Destructive commands ask on a terminal. Without a terminal to ask on they need --yes: a script
 * that forgot it stops rather than deleting unasked.
 */
export async function confirm(question: string, options: ConfirmOptions): Promise<void> {
  if (options.yes === true) return;
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    throw usageError(`${question.replace(/\?$/, '')}: pass --yes to confirm when not on a terminal`);
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliExit(1, 'cancelled');
  } finally {
    prompt.close();
  }
}

/** A JSON object from a file, or from standard input for "-". */
export async function readJsonObject(source: string): Promise<Record<string, unknown>> {
  const name = source === '-' ? 'standard input' : source;
  let text: string;
  try {
    text = source === '-' ? await readStdin() : await readFile(source, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliExit(1, `--data ${name}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(error)})`}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse's own message may quote the input (`Unexpected token 'c', "client_sec..." is not
    // valid JSON`), and the file may hold secrets: only where it went wrong is printed, never what
    throw new CliExit(1, `--data ${name}: not valid JSON${jsonErrorPosition(text, error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliExit(1, `--data ${name}: must hold a JSON object`);
  return value as Record<string, unknown>;
}

/** " (line L, column C)" from the offset JSON.parse reports, or "" when it reports none. */
function jsonErrorPosition(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const offset = /Unexpected end of JSON input/.test(message) ? text.length : Number(/at position (\d+)/.exec(message)?.[1] ?? Number.NaN);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > text.length) return '';
  const before = text.slice(0, offset).split('\n');
  return ` (line ${before.length}, column ${before.at(-1)!.length + 1})`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "3600", "90s", "15m", "12h", "30d" as seconds (commander argParser: bad input is a usage error). */
export function parseDuration(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (match === null) throw new InvalidArgumentError('expected seconds, or a number with s, m, h or d (90s, 15m, 12h, 30d)');
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] === '' ? 's' : match[2]!]!;
  if (!Number.isSafeInteger(seconds)) throw new InvalidArgumentError('too large');
  return seconds;
}

/** Epoch seconds, or an ISO 8601 date or date-time, as epoch seconds. */
export function parseTime(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected epoch seconds or an ISO 8601 date (2025-01-31, 2025-01-31T12:00:00Z)');
  return Math.floor(ms / 1000);
}

export function parsePositiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number above 0');
  return Number(value);
}

/** Repeatable options collect their values: --redirect-uri A --redirect-uri B. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A repeatable option with choices: each value is checked, and the help still lists the choices. */
export function repeatableChoice(option: Option, choices: readonly string[]): Option {
  option.choices(choices);
  return option.argParser((value: string, previous: string[] | undefined) => {
    if (!choices.includes(value)) throw new InvalidArgumentError(`Allowed choices are ${choices.join(', ')}.`);
    return collect(value, previous);
  });
}
