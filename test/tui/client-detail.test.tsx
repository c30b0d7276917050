import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/tui/app.js';
import { ClientDetail, previousSecretUntil, readGracePeriod } from '../../src/tui/screens/client-detail.js';
import { initialState, type Action } from '../../src/tui/store.js';
import { FakeAdminApi, fakeClient } from './fake-admin-api.js';
import { KEY, press, type, waitForText } from './ink-keys.js';

afterEach(cleanup);

const shop = () =>
  fakeClient({
    client_id: 'shop-1',
    client_name: 'Web shop',
    redirect_uris: ['https://shop.example/cb', 'https://shop.example/cb2'],
    contacts: ['ops@shop.example'],
    jwks: { keys: [{ kty: 'EC', kid: 'k1', use: 'sig', alg: 'ES256' }] },
    'client_name#fr': 'Boutique',
    scope: 'openid profile',
    expires_at: Date.UTC(2030, 0, 1) / 1000,
    last_used_at: Date.UTC(2026, 5, 1) / 1000,
  });

const openAt = (api: FakeAdminApi, clientId: string) => render(<App api={api} initial={{ ...initialState, screen: { name: 'detail', clientId } }} />);

describe('the grace period of a rotation, without a terminal', () => {
  it.each([
    ['', { seconds: undefined }],
    [' 600 ', { seconds: 600 }],
    ['0', { seconds: 0 }],
    ['10m', { error: 'grace period: "10m" is not a whole number of seconds' }],
    ['-5', { error: 'grace period: "-5" is not a whole number of seconds' }],
  ])('%j reads as %j', (text, read) => {
    expect(readGracePeriod(text)).toEqual(read);
  });

  it('ends at the old secret\'s own expiry when that comes first, and is nothing without a grace period', () => {
    const now = 2_000_000_000;
    expect(previousSecretUntil(fakeClient({ client_id: 'c', client_secret_expires_at: 0 }), 3600, now)).toBe(now + 3600);
    expect(previousSecretUntil(fakeClient({ client_id: 'c', client_secret_expires_at: now + 60 }), 3600, now)).toBe(now + 60);
    expect(previousSecretUntil(fakeClient({ client_id: 'c', client_secret_expires_at: now - 1 }), 3600, now)).toBeUndefined();
    expect(previousSecretUntil(fakeClient({ client_id: 'c' }), 0, now)).toBeUndefined();
    expect(previousSecretUntil(fakeClient({ client_id: 'c' }), undefined, now)).toBeUndefined();
  });
});

describe('TUI client detail', () => {
  it('shows every field of the client', async () => {
    const client = shop();
    const actions: Action[] = [];
    const screen = render(
      <ClientDetail api={new FakeAdminApi([client])} clientId="shop-1" secrets={undefined} notice={undefined} height={100} dispatch={(action) => actions.push(action)} />,
    );
    const frame = await waitForText(screen, 'registration_client_uri');
    const labels = frame.split('\n').map((line) => line.split(' ')[0]);
    for (const field of Object.keys(client)) expect(labels).toContain(field);
    expect(frame).toMatch(/^redirect_uris\s+https:\/\/shop\.example\/cb, https:\/\/shop\.example\/cb2$/m);
    expect(frame).toMatch(/^jwks\s+1 key: k1 EC sig ES256$/m);
    expect(frame).toMatch(/^expires_at\s+2030-01-01T00:00:00Z$/m);
    expect(frame).toMatch(/^access_token_lifetime\s+300 s$/m);
    expect(frame).toMatch(/^disabled\s+no$/m);
  });

  it('scrolls with ↓ when the fields do not fit', async () => {
    const screen = openAt(new FakeAdminApi([shop()]), 'shop-1');
    const frame = await waitForText(screen, '↓ more');
    expect(frame).not.toContain('registration_client_uri');
    await press(screen, ...Array<string>(30).fill(KEY.down));
    expect(await waitForText(screen, 'registration_client_uri')).toContain('↑ more');
  });

  it('d disables the client, and d again enables it', async () => {
    const api = new FakeAdminApi([shop()]);
    const screen = openAt(api, 'shop-1');
    await waitForText(screen, 'd disable');
    await press(screen, 'd');
    expect(await waitForText(screen, 'client disabled')).toContain('d enable');
    expect(api.clients[0]!.disabled).toBe(true);
    await press(screen, 'd');
    expect(await waitForText(screen, 'client enabled')).toContain('d disable');
    expect(api.calls.map((call) => call.method)).toEqual(['getClient', 'disableClient', 'enableClient']);
  });

  it('r rotates the secret after y and an empty grace period, and shows the new secret once, with a warning', async () => {
    const api = new FakeAdminApi([shop()]);
    const screen = openAt(api, 'shop-1');
    await waitForText(screen, 'r rotate secret');
    await press(screen, 'r');
    await waitForText(screen, 'Rotate the client secret of shop-1? y/N');
    await press(screen, 'y');
    await waitForText(screen, 'Grace period: how long the current secret keeps working, in seconds (empty: it stops working now)');
    expect(api.calls.map((call) => call.method)).toEqual(['getClient']);
    await press(screen, KEY.enter);
    const frame = await waitForText(screen, 'rotated-secret-1');
    expect(frame).toContain('⚠ Copy this now: it will not be shown again.');
    expect(frame).toMatch(/client_secret rotated-secret-1/);
    expect(frame).not.toContain('previous secret');
    expect(api.calls.filter((call) => call.method === 'rotateSecret')).toEqual([{ method: 'rotateSecret', args: ['shop-1', undefined] }]);
    // other keys do not dismiss it by accident
    await press(screen, 'x', 'd');
    expect(screen.lastFrame()).toContain('rotated-secret-1');
    await press(screen, KEY.enter);
    const after = await waitForText(screen, 'r rotate secret');
    expect(after).not.toContain('rotated-secret-1');
    expect(after).not.toContain('Copy this now');
  });

  it('a grace period is sent in seconds, and the panel says until when the previous secret keeps working', async () => {
    const api = new FakeAdminApi([shop()]);
    const screen = openAt(api, 'shop-1');
    await waitForText(screen, 'r rotate secret');
    await press(screen, 'r', 'y');
    await waitForText(screen, 'Grace period');
    const before = Math.floor(Date.now() / 1000);
    await type(screen, '3600');
    await waitForText(screen, /grace period 3600/);
    await press(screen, KEY.enter);
    const frame = await waitForText(screen, 'rotated-secret-1');
    const after = Math.floor(Date.now() / 1000);
    expect(api.calls.filter((call) => call.method === 'rotateSecret')).toEqual([{ method: 'rotateSecret', args: ['shop-1', 3600] }]);
    expect(frame).toContain('⚠ Copy this now: it will not be shown again.');
    const until = /The previous secret keeps working until (\S+)Z\./.exec(frame);
    expect(until, frame).not.toBeNull();
    const seconds = Date.parse(`${until![1]!}Z`) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(before + 3600);
    expect(seconds).toBeLessThanOrEqual(after + 3600);
    await press(screen, KEY.enter);
    expect(await waitForText(screen, 'r rotate secret')).not.toContain('previous secret');
  });

  it('a grace period that is not a whole number of seconds is refused on the spot; Esc then rotates nothing', async () => {
    const api = new FakeAdminApi([shop()]);
    const screen = openAt(api, 'shop-1');
    await waitForText(screen, 'r rotate secret');
    await press(screen, 'r', 'y');
    await waitForText(screen, 'Grace period');
    await type(screen, 'an hour');
    await press(screen, KEY.enter);
    const frame = await waitForText(screen, '✗ grace period: "an hour" is not a whole number of seconds');
    expect(frame).toMatch(/grace period an hour/);
    expect(api.calls.map((call) => call.method)).toEqual(['getClient']);
    await press(screen, KEY.escape);
    expect(await waitForText(screen, 'secret not rotated')).not.toContain('Grace period');
    expect(api.calls.map((call) => call.method)).toEqual(['getClient']);
    // the detail screen is back: Esc now goes back to the list
    await press(screen, KEY.escape);
    await waitForText(screen, 'oidc-registrar · clients');
  });

  it('r then anything but y rotates nothing', async () => {
    const api = new FakeAdminApi([shop()]);
    const screen = openAt(api, 'shop-1');
    await waitForText(screen, 'r rotate secret');
    await press(screen, 'r', 'n');
    await waitForText(screen, 'secret not rotated');
    expect(api.calls.map((call) => call.method)).toEqual(['getClient']);
  });

  it('a refused rotation shows the server\'s error', async () => {
    const api = new FakeAdminApi([fakeClient({ client_id: 'svc', token_endpoint_auth_method: 'private_key_jwt' })]);
    const screen = openAt(api, 'svc');
    await waitForText(screen, 'r rotate secret');
    await press(screen, 'r', 'y', KEY.enter);
    await waitForText(screen, '✗ 400 invalid_request: client svc authenticates with private_key_jwt, which uses no secret');
  });

  it('x asks before deleting: N keeps the client, y deletes it and goes back to the list', async () => {
    const api = new FakeAdminApi([shop(), fakeClient({ client_id: 'other', client_name: 'Other', created_at: 1 })]);
    const screen = openAt(api, 'shop-1');
    await waitForText(screen, 'x delete');
    await press(screen, 'x');
    await waitForText(screen, 'Delete client shop-1 (Web shop)? It cannot be undone. y/N');
    await press(screen, KEY.enter);
    await waitForText(screen, 'not deleted');
    expect(api.clients).toHaveLength(2);

    await press(screen, 'x');
    await waitForText(screen, 'Delete client shop-1');
    await press(screen, 'y');
    const list = await waitForText(screen, 'client shop-1 deleted');
    expect(list).toContain('oidc-registrar · clients');
    expect(await waitForText(screen, 'Other')).not.toContain('Web shop');
    expect(api.calls.filter((call) => call.method === 'deleteClient')).toEqual([{ method: 'deleteClient', args: ['shop-1'] }]);
  });

  it('an unknown client says what the server said', async () => {
    const screen = openAt(new FakeAdminApi(), 'gone');
    await waitForText(screen, '✗ 404 not_found: no client gone');
  });
});
