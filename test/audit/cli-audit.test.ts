import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminCredentials, AuditEntry } from '../../src/admin-client/types.js';
import { parseSince } from '../../src/cli/audit.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { runCli } from '../cli/support/run-cli.js';

/**
 * `oidc-registrar audit list` as a process, against the real server (in this process, on the
 * storage under test) through the admin API, with an admin's credentials file.
 */
describe(`oidc-registrar audit list (${storageKind})`, () => {
  let server: TestServer;
  let dir: string;
  let credentials: AdminCredentials;
  let clientId: string;
  const cli = (...args: string[]) =>
    runCli(['audit', 'list', ...args], {
      env: { OIDC_REGISTRAR_CREDENTIALS: join(dir, 'admin.json'), XDG_CACHE_HOME: join(dir, 'cache'), DATA_DIR: join(dir, 'elsewhere') },
    });
  const json = async (...args: string[]): Promise<{ entries: AuditEntry[]; next_cursor: string | null }> => {
    const result = await cli(...args, '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'registrar-audit-cli-'));
    server = await startTestServer();
    credentials = await bootstrapAdmin(server);
    writeFileSync(join(dir, 'admin.json'), JSON.stringify(credentials), { mode: 0o600 });
    const token = await adminToken(server, credentials);
    const created = await request(server, 'POST', '/admin/clients', { token, json: { grant_types: ['client_credentials'], client_name: 'Ledger' } });
    clientId = created.body.client_id as string;
    await request(server, 'POST', `/admin/clients/${clientId}/disable`, { token, headers: { 'x-request-id': 'disable-ledger-1' } });
    // a refused admin request: no token at all
    await request(server, 'GET', '/admin/clients');
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a table, newest first: time, action, actor, client, source, request id and what changed', async () => {
    const result = await cli();
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+ACTION\s+ACTOR\s+CLIENT ID\s+SOURCE\s+REQUEST ID\s+CHANGED$/);
    // the CLI's own admin requests come after (a token, then this list): the failure is first of ours
    const ours = lines.slice(1).filter((line) => !/admin\.bootstrap/.test(line));
    expect(ours[0]).toMatch(/admin\.authentication_failed\s+anonymous\s+-\s+127\.0\.0\.1\s+\S+\s+.*error=invalid_token/);
    expect(ours[0]).toMatch(/ status=401( |$)/);
    expect(ours[1]).toMatch(new RegExp(`client\\.disable\\s+admin ${credentials.client_id}\\s+${clientId}\\s+127\\.0\\.0\\.1\\s+disable-ledger-1\\s+disabled$`));
    expect(ours[2]).toMatch(new RegExp(`client\\.create\\s+admin ${credentials.client_id}\\s+${clientId}\\s.*client_name`));
    expect(lines.at(-1)).toMatch(new RegExp(`admin\\.bootstrap\\s+cli \\S+@\\S+\\s+${credentials.client_id}\\s+-\\s+-`));
  });

  it('--client, --action and --actor filter, as the admin API does', async () => {
    expect((await json('--client', clientId)).entries.map((e) => e.action)).toEqual(['client.disable', 'client.create']);
    expect((await json('--client', clientId, '--action', 'client.disable')).entries.map((e) => e.request_id)).toEqual(['disable-ledger-1']);
    const failures = await json('--actor', 'anonymous', '--action', 'admin.authentication_failed');
    expect(failures.entries.map((e) => [e.actor_type, e.details.status])).toEqual([['anonymous', 401]]);
    expect((await json('--actor', credentials.client_id, '--client', clientId)).entries).toHaveLength(2);
  });

  it('--since and --until take a duration back from now, or a date', async () => {
    expect((await json('--client', clientId, '--since', '1h')).entries).toHaveLength(2);
    expect((await json('--client', clientId, '--until', '1h')).entries).toEqual([]);
    expect((await json('--client', clientId, '--since', '2000-01-01', '--until', '2999-01-01')).entries).toHaveLength(2);
    expect((await cli('--client', clientId, '--until', '1h')).stdout).toBe('no audit entries\n');
  });

  it('pages with --limit and --cursor, or follows every page with --all', async () => {
    const first = await cli('--client', clientId, '--limit', '1');
    expect(first.stdout).toMatch(/client\.disable/);
    const cursor = /more: --cursor (\S+) \(or --all\)/.exec(first.stdout)?.[1];
    expect(cursor).toBeDefined();
    expect((await json('--client', clientId, '--limit', '1', '--cursor', cursor!)).entries.map((e) => e.action)).toEqual(['client.create']);
    const all = await json('--client', clientId, '--limit', '1', '--all');
    expect([all.entries.map((e) => e.action), all.next_cursor]).toEqual([['client.disable', 'client.create'], null]);
  });

  it('refuses an unknown action or time with a usage error (exit 2), and the server\'s refusal with exit 1', async () => {
    const action = await cli('--action', 'client.frobnicate');
    expect([action.code, action.stderr]).toEqual([2, expect.stringMatching(/Allowed choices are client\.register, client\.create/)]);
    expect((await cli('--since', 'yesterday')).code).toBe(2);
    const refused = await cli('--client', 'not-a-client-id');
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/client_id must be a client id .*\(invalid_request, HTTP 400\)/)]);
  });
});

describe('parseSince', () => {
  it('reads a duration with its unit as that long before now, a bare number as epoch seconds, a date as a date', () => {
    expect(parseSince('90s', 10_000)).toBe(9_910);
    expect(parseSince('2h', 10_000)).toBe(2_800);
    expect(parseSince('1d', 100_000)).toBe(13_600);
    expect(parseSince('1700000000', 10_000)).toBe(1_700_000_000);
    expect(parseSince('2025-01-31T00:00:00Z', 10_000)).toBe(1_738_281_600);
    expect(() => parseSince('soon')).toThrow(/duration back from now/);
  });
});
