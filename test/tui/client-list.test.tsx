import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/tui/app.js';
import { FakeAdminApi, fakeClient } from './fake-admin-api.js';
import { KEY, press, type, waitForText } from './ink-keys.js';

afterEach(cleanup);

/** Clients "Client 01" (oldest) to "Client NN" (newest). */
const numbered = (count: number) =>
  Array.from({ length: count }, (_, index) => {
    const n = String(index + 1).padStart(2, '0');
    return fakeClient({ client_id: `id-${n}`, client_name: `Client ${n}`, created_at: 1_700_000_000 + index });
  });

describe('TUI client list', () => {
  it('shows name, client_id, auth method and the disabled, expired and admin marks', async () => {
    const api = new FakeAdminApi([
      fakeClient({ client_id: 'rp-1', client_name: 'Shop', created_at: 3 }),
      fakeClient({ client_id: 'svc-2', client_name: 'Billing', token_endpoint_auth_method: 'private_key_jwt', disabled: true, created_at: 2 }),
      fakeClient({ client_id: 'old-3', expires_at: 1_000, admin: true, created_at: 1 }),
    ]);
    const screen = render(<App api={api} />);
    const frame = await waitForText(screen, 'Billing');
    expect(frame).toMatch(/› Shop\s+rp-1\s+client_secret_basic\s*\n/);
    expect(frame).toMatch(/ {2}Billing\s+svc-2\s+private_key_jwt\s+disabled\s*\n/);
    expect(frame).toMatch(/ {2}\(no name\)\s+old-3\s+client_secret_basic\s+expired admin/);
  });

  it('pages with n and p (and PgDn/PgUp) through the server\'s next_cursor', async () => {
    const api = new FakeAdminApi(numbered(7));
    const screen = render(<App api={api} pageSize={3} />);
    expect(await waitForText(screen, 'Client 07')).toContain('Client 05');
    expect(screen.lastFrame()).not.toContain('Client 04');
    expect(screen.lastFrame()).toContain('more on the next page');

    await press(screen, 'n');
    let frame = await waitForText(screen, 'Client 04');
    expect(frame).toContain('page 2');
    expect(frame).not.toContain('Client 07');

    await press(screen, KEY.pageDown);
    frame = await waitForText(screen, 'Client 01');
    expect(frame).toContain('page 3');
    expect(frame).not.toContain('more on the next page');
    await press(screen, 'n'); // no next page: stays
    expect(screen.lastFrame()).toContain('page 3');

    await press(screen, 'p');
    await waitForText(screen, 'Client 04');
    await press(screen, KEY.pageUp);
    expect(await waitForText(screen, 'Client 07')).toContain('page 1');
    expect(api.calls.filter((call) => call.method === 'listClients').map((call) => call.args[0])).toEqual([
      { limit: 3 },
      { limit: 3, cursor: 'after-3' },
      { limit: 3, cursor: 'after-6' },
      { limit: 3, cursor: 'after-3' },
      { limit: 3 },
    ]);
  });

  it('/ searches: the text goes to the server as q, Esc clears it', async () => {
    const api = new FakeAdminApi([fakeClient({ client_id: 'a1', client_name: 'Web shop', created_at: 2 }), fakeClient({ client_id: 'b2', client_name: 'Billing', created_at: 1 })]);
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Billing');
    await press(screen, '/');
    await waitForText(screen, 'search (client_name or client_id)');
    await type(screen, 'SHOP');
    await press(screen, KEY.enter);
    const frame = await waitForText(screen, /search "SHOP"[\s\S]*Web shop/);
    expect(frame).not.toContain('Billing');
    expect(api.calls.at(-1)).toEqual({ method: 'listClients', args: [{ limit: 14, q: 'SHOP' }] });

    await press(screen, '/');
    await press(screen, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, ...'zzz', KEY.enter);
    expect(await waitForText(screen, 'No client matches "zzz".')).not.toContain('Web shop');

    await press(screen, KEY.escape);
    expect(await waitForText(screen, 'Billing')).not.toContain('search "');
  });

  it('↓ and Enter open the selected client\'s details; Esc comes back', async () => {
    const api = new FakeAdminApi([fakeClient({ client_id: 'a1', client_name: 'First', created_at: 2 }), fakeClient({ client_id: 'b2', client_name: 'Second', created_at: 1 })]);
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Second');
    await press(screen, KEY.down);
    expect(await waitForText(screen, '› Second')).toContain('  First');
    await press(screen, KEY.enter);
    expect(await waitForText(screen, 'oidc-registrar · client · Second')).toMatch(/client_id\s+b2/);
    await press(screen, KEY.escape);
    await waitForText(screen, 'oidc-registrar · clients');
    // ↓ and Enter in one read, as tmux send-keys Down Enter sends them
    await press(screen, KEY.up, `${KEY.down}${KEY.enter}`);
    await waitForText(screen, 'oidc-registrar · client · Second');
  });

  it('says so when there are no clients, and when the server fails', async () => {
    const empty = render(<App api={new FakeAdminApi()} />);
    await waitForText(empty, 'No clients yet: a to add one.');

    const failing = new FakeAdminApi();
    failing.listClients = async () => {
      const { AdminApiError } = await import('../../src/admin-client/types.js');
      throw new AdminApiError(403, 'insufficient_scope', 'the token lacks admin:read');
    };
    const screen = render(<App api={failing} />);
    await waitForText(screen, '✗ 403 insufficient_scope: the token lacks admin:read');
  });
});
