import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminApiError } from '../../src/admin-client/types.js';
import { App } from '../../src/tui/app.js';
import { actorText, auditChange } from '../../src/tui/screens/audit-log.js';
import { initialState, reducer } from '../../src/tui/store.js';
import { FakeAdminApi, fakeAuditEntry, fakeClient } from './fake-admin-api.js';
import { KEY, press, waitForText } from './ink-keys.js';

afterEach(cleanup);

const ADMIN = 'admin-client-0000000001';

/** Entries 1 (oldest) to `count` (newest), newest first as the server lists them. */
const trail = (count: number) => Array.from({ length: count }, (_, index) => fakeAuditEntry({ id: count - index, request_id: `req-${count - index}` }));

describe('TUI audit log', () => {
  it('l on the client list opens every entry: time, action, actor, client and what changed; Esc comes back', async () => {
    const api = new FakeAdminApi([fakeClient({ client_id: 'shop-1', client_name: 'Shop' })]);
    api.audit = [
      fakeAuditEntry({ id: 3, at: 1_700_000_300, action: 'admin.authentication_failed', actor_type: 'anonymous', actor_id: null, client_id: null, changed_fields: [], details: { status: 401, error: 'invalid_token' } }),
      fakeAuditEntry({ id: 2, at: 1_700_000_200, action: 'client.disable', actor_id: ADMIN, client_id: 'shop-1', changed_fields: ['disabled'] }),
      fakeAuditEntry({ id: 1, at: 1_700_000_100, action: 'key.rotate', actor_id: ADMIN, client_id: null, changed_fields: [], details: { kid: 'k-2', alg: 'ES256' } }),
    ];
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Shop');
    expect(screen.lastFrame()).toMatch(/l audit log/);
    await press(screen, 'l');
    const frame = await waitForText(screen, /oidc-registrar · audit log · page 1[\s\S]*kid k-2/);
    expect(frame).toMatch(/2023-11-14T22:18:20Z\s+admin\.authentication_failed\s+anonymous\n\s+client — · 401 invalid_token · request request-3\n/);
    expect(frame).toMatch(new RegExp(`2023-11-14T22:16:40Z\\s+client\\.disable\\s+admin ${ADMIN}\\n\\s+client shop-1 · disabled · request request-2\\n`));
    expect(frame).toMatch(/key\.rotate\s+admin \S+\n\s+client — · kid k-2 · request request-1/);
    expect(api.calls.at(-1)).toEqual({ method: 'listAudit', args: [{ limit: 8 }] });
    await press(screen, KEY.escape);
    await waitForText(screen, 'oidc-registrar · clients');
  });

  it('pages with n and p through the server\'s next_cursor', async () => {
    const api = new FakeAdminApi();
    api.audit = trail(5);
    const screen = render(<App api={api} pageSize={2} initial={{ ...initialState, screen: { name: 'audit' } }} />);
    expect(await waitForText(screen, 'req-5')).toContain('more on the next page');
    await press(screen, 'n');
    expect(await waitForText(screen, 'req-3')).toContain('page 2');
    await press(screen, 'n');
    const last = await waitForText(screen, 'req-1');
    expect(last).not.toContain('more on the next page');
    await press(screen, 'p');
    await waitForText(screen, 'req-3');
    expect(api.calls.filter((call) => call.method === 'listAudit').map((call) => call.args[0])).toEqual([
      { limit: 2 },
      { limit: 2, cursor: 'after-2' },
      { limit: 2, cursor: 'after-4' },
      { limit: 2, cursor: 'after-2' },
    ]);
  });

  it('l on a client\'s detail screen shows that client\'s entries only; Esc returns to the client', async () => {
    const api = new FakeAdminApi([fakeClient({ client_id: 'shop-1', client_name: 'Shop' })]);
    api.audit = [
      fakeAuditEntry({ id: 2, action: 'client.update', client_id: 'other-2', changed_fields: ['scope'] }),
      fakeAuditEntry({ id: 1, action: 'client.create', client_id: 'shop-1', changed_fields: ['client_name', 'client_secret'] }),
    ];
    const screen = render(<App api={api} initial={{ ...initialState, screen: { name: 'detail', clientId: 'shop-1' } }} />);
    await waitForText(screen, 'oidc-registrar · client · Shop');
    await press(screen, 'l');
    const frame = await waitForText(screen, /audit log · client shop-1[\s\S]*request request-1/);
    expect(frame).toMatch(/client\.create\s+admin \S+\n\s+client_name, client_secret · request request-1/);
    expect(frame).not.toContain('client.update');
    expect(api.calls.at(-1)).toEqual({ method: 'listAudit', args: [{ limit: 8, client_id: 'shop-1' }] });
    await press(screen, KEY.escape);
    await waitForText(screen, 'oidc-registrar · client · Shop');
  });

  it('says so when there are no entries, and when the server refuses', async () => {
    const empty = render(<App api={new FakeAdminApi()} initial={{ ...initialState, screen: { name: 'audit' } }} />);
    await waitForText(empty, 'No audit entries.');
    const failing = new FakeAdminApi();
    failing.listAudit = async () => {
      throw new AdminApiError(403, 'insufficient_scope', 'the token lacks admin:read');
    };
    const screen = render(<App api={failing} initial={{ ...initialState, screen: { name: 'audit' } }} />);
    await waitForText(screen, '✗ 403 insufficient_scope: the token lacks admin:read');
  });

  it('moves between screens as a pure function: audit from the list returns to the list, from a client to the client', () => {
    const fromList = reducer(initialState, { type: 'audit' });
    expect(fromList.screen).toEqual({ name: 'audit' });
    expect(reducer(fromList, { type: 'back' }).screen).toEqual({ name: 'list' });
    const fromClient = reducer({ ...initialState, screen: { name: 'detail', clientId: 'c1' } }, { type: 'audit', clientId: 'c1' });
    expect(fromClient.screen).toEqual({ name: 'audit', clientId: 'c1' });
    expect(reducer(fromClient, { type: 'back' }).screen).toEqual({ name: 'detail', clientId: 'c1' });
  });

  it('describes actors and changes in a few words', () => {
    expect(actorText(fakeAuditEntry({ id: 1, actor_type: 'system', actor_id: null }))).toBe('system');
    expect(actorText(fakeAuditEntry({ id: 1, actor_type: 'cli', actor_id: 'ops@host' }))).toBe('cli ops@host');
    expect(auditChange(fakeAuditEntry({ id: 1, changed_fields: [], details: { clients_resealed: 3 } }))).toBe('clients_resealed=3');
  });
});
