import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/tui/app.js';
import { userRequest } from '../../src/tui/screens/users.js';
import { FakeAdminApi, fakeClient, fakeUser } from './fake-admin-api.js';
import { KEY, press, type, waitForText } from './ink-keys.js';

afterEach(cleanup);

const withUsers = () => {
  const api = new FakeAdminApi([fakeClient({ client_id: 'rp-1', client_name: 'Shop' })]);
  api.users.push(
    fakeUser({ id: 'a'.repeat(32), username: 'alice', email: 'alice@example.com', name: 'Alice Liddell' }),
    fakeUser({ id: 'b'.repeat(32), username: 'bob', disabled: true }),
  );
  return api;
};

/** The app, opened on the users screen (u from the client list). */
async function openUsers(api: FakeAdminApi) {
  const screen = render(<App api={api} />);
  await waitForText(screen, 'Shop');
  expect(screen.lastFrame()).toMatch(/u\s+users/);
  await press(screen, 'u');
  await waitForText(screen, 'alice@example.com');
  return screen;
}

describe('TUI users', () => {
  it('are reached from the client list with u, listed with e-mail, name and status, and left with Esc', async () => {
    const screen = await openUsers(withUsers());
    const frame = screen.lastFrame()!;
    expect(frame).toMatch(/› alice\s+alice@example.com\s+Alice Liddell\s+enabled/);
    expect(frame).toMatch(/bob\s+-\s+-\s+disabled/);
    await press(screen, KEY.escape);
    await waitForText(screen, 'oidc-registrar · clients');
  });

  it('creates one from the form, the password masked on screen and sent to the API', async () => {
    const api = withUsers();
    const screen = await openUsers(api);
    await press(screen, 'c');
    await waitForText(screen, 'new user');
    await type(screen, 'carol');
    await press(screen, KEY.tab);
    await type(screen, 'carol-secret-1');
    const typing = screen.lastFrame()!;
    expect(typing).not.toContain('carol-secret-1');
    expect(typing).toContain('••••••••••••••');
    await press(screen, KEY.tab);
    await type(screen, 'carol@example.com');
    await press(screen, KEY.tab);
    await type(screen, 'Carol Singer');
    await press(screen, KEY.enter);
    const done = await waitForText(screen, 'user carol created');
    expect(done).toMatch(/carol\s+carol@example.com\s+Carol Singer\s+enabled/);
    expect(done).not.toContain('carol-secret-1');
    expect(api.calls.find((call) => call.method === 'createUser')?.args[0]).toEqual({ username: 'carol', email: 'carol@example.com', name: 'Carol Singer' });
    expect(api.passwords.get(api.users[0]!.id)).toBe('carol-secret-1');
  });

  it("refuses a form it cannot send without calling the server, and shows the server's refusal", async () => {
    expect(userRequest({ username: ' ', password: 'x'.repeat(8), email: '', name: '' })).toMatch(/username/);
    expect(userRequest({ username: 'dave', password: '', email: '', name: '' })).toMatch(/password/);
    expect(userRequest({ username: 'dave', password: 'pw-of-dave', email: ' ', name: '' })).toEqual({ username: 'dave', password: 'pw-of-dave' });
    const api = withUsers();
    const screen = await openUsers(api);
    await press(screen, 'c');
    await type(screen, 'ALICE');
    await press(screen, KEY.tab);
    await type(screen, 'long-enough');
    await press(screen, KEY.enter);
    await waitForText(screen, '409 conflict: the username ALICE is taken');
    expect(api.users).toHaveLength(2);
  });

  it('disables and enables the selected user with d', async () => {
    const api = withUsers();
    const screen = await openUsers(api);
    await press(screen, 'd');
    await waitForText(screen, 'user alice disabled');
    expect(screen.lastFrame()).toMatch(/› alice.*disabled/);
    await press(screen, 'j', 'd');
    await waitForText(screen, 'user bob enabled');
    expect(api.calls.map((call) => call.method).filter((name) => name.endsWith('ableUser'))).toEqual(['disableUser', 'enableUser']);
  });

  it('sets the password of the selected user with p, masked, and cancels with Esc', async () => {
    const api = withUsers();
    const screen = await openUsers(api);
    await press(screen, 'p');
    await waitForText(screen, 'new password for alice');
    await type(screen, 'short');
    await press(screen, KEY.enter);
    await waitForText(screen, '400 invalid_request: password must be 8 to 1024 characters long');
    await press(screen, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace);
    await type(screen, 'alice-new-password');
    expect(screen.lastFrame()).not.toContain('alice-new-password');
    await press(screen, KEY.enter);
    await waitForText(screen, 'password set for alice');
    expect(api.passwords.get('a'.repeat(32))).toBe('alice-new-password');
    await press(screen, 'p');
    await waitForText(screen, 'new password for alice');
    await press(screen, KEY.escape);
    await waitForText(screen, /c\s+create/);
    expect(api.calls.filter((call) => call.method === 'setUserPassword')).toHaveLength(2);
  });

  it('deletes the selected user after y, and keeps it on any other key', async () => {
    const api = withUsers();
    const screen = await openUsers(api);
    await press(screen, 'j', 'x');
    await waitForText(screen, 'Delete user bob for good?');
    await press(screen, 'n');
    await waitForText(screen, /c\s+create/);
    expect(api.users).toHaveLength(2);
    await press(screen, 'x');
    await waitForText(screen, 'Delete user bob for good?');
    await press(screen, 'y');
    await waitForText(screen, 'user bob deleted');
    expect(api.users.map((user) => user.username)).toEqual(['alice']);
  });
});
