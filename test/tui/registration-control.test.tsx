import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminApiError } from '../../src/admin-client/types.js';
import { App } from '../../src/tui/app.js';
import { tokenRequest } from '../../src/tui/screens/initial-access-tokens.js';
import { FakeAdminApi, fakeClient, fakePolicy, fakeToken } from './fake-admin-api.js';
import { KEY, press, type, waitForText } from './ink-keys.js';

afterEach(cleanup);

const withData = () => {
  const api = new FakeAdminApi([fakeClient({ client_id: 'rp-1', client_name: 'Shop' })]);
  api.policies.push(fakePolicy({ name: 'partner-a', description: 'Partner A', rules: { grant_types: ['authorization_code'] } }), fakePolicy({ name: 'strict', is_default: true }));
  api.tokens.push(
    fakeToken({ id: 'aaaaaaaaaaaaaaaaaaa1', max_uses: 5, uses: 2, uses_left: 3, policy: 'partner-a', description: 'partner A' }),
    fakeToken({ id: 'aaaaaaaaaaaaaaaaaaa2', state: 'revoked', uses_left: 0, revoked_at: 2_000_000_050 }),
  );
  return api;
};

describe('TUI initial access tokens', () => {
  it('are reached from the client list with t, listed with their uses and the uses left, and left with Esc', async () => {
    const screen = render(<App api={withData()} />);
    await waitForText(screen, 'Shop');
    expect(screen.lastFrame()).toContain('initial access tokens');
    await press(screen, 't');
    const frame = await waitForText(screen, 'aaaaaaaaaaaaaaaaaaa1');
    expect(frame).toMatch(/› aaaaaaaaaaaaaaaaaaa1\s+active\s+2\/5\s+3\s+partner-a\s+never\s+partner A/);
    expect(frame).toMatch(/aaaaaaaaaaaaaaaaaaa2\s+revoked\s+0\s+0\s+\(default\)/);
    await press(screen, KEY.escape);
    await waitForText(screen, 'oidc-registrar · clients');
  });

  it('creates one from the form and shows its token once, gone at the next key', async () => {
    const api = withData();
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Shop');
    await press(screen, 't');
    await waitForText(screen, 'aaaaaaaaaaaaaaaaaaa1');
    await press(screen, 'c');
    await waitForText(screen, 'new initial access token');
    await type(screen, '5');
    await press(screen, KEY.tab);
    await type(screen, '7d');
    await press(screen, KEY.tab);
    await type(screen, 'partner-a');
    await press(screen, KEY.tab);
    await type(screen, 'onboarding');
    await press(screen, KEY.enter);
    const shown = await waitForText(screen, 'secret-iat-1');
    expect(shown).toContain('shown once');
    expect(api.calls.find((call) => call.method === 'createInitialAccessToken')?.args[0]).toEqual({ max_uses: 5, expires_in: 604_800, policy: 'partner-a', description: 'onboarding' });
    await press(screen, KEY.space);
    const after = await waitForText(screen, /initial access token \S+ created/);
    expect(after).not.toContain('secret-iat-1');
    expect(after).toMatch(/5\s+partner-a/);
  });

  it('refuses a form it cannot read without calling the server, and shows the server\'s refusal', async () => {
    expect(tokenRequest({ max_uses: 'five', expires_in: '', policy: '', description: '' })).toMatch(/max uses/);
    expect(tokenRequest({ max_uses: '', expires_in: 'a week', policy: '', description: '' })).toMatch(/expires in/);
    expect(tokenRequest({ max_uses: '', expires_in: '', policy: '', description: '' })).toEqual({});
    const api = withData();
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Shop');
    await press(screen, 't');
    await waitForText(screen, 'aaaaaaaaaaaaaaaaaaa1');
    await press(screen, 'c', KEY.tab, KEY.tab);
    await type(screen, 'nobody');
    await press(screen, KEY.enter);
    await waitForText(screen, '404 not_found: no registration policy nobody');
    expect(api.tokens).toHaveLength(2);
  });

  it('revokes the selected token after y, and keeps it on any other key', async () => {
    const api = withData();
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Shop');
    await press(screen, 't');
    await waitForText(screen, 'aaaaaaaaaaaaaaaaaaa1');
    await press(screen, 'x');
    await waitForText(screen, 'Revoke aaaaaaaaaaaaaaaaaaa1?');
    await press(screen, 'n');
    expect(api.calls.some((call) => call.method === 'revokeInitialAccessToken')).toBe(false);
    await press(screen, 'x', 'y');
    await waitForText(screen, 'initial access token aaaaaaaaaaaaaaaaaaa1 revoked');
    expect(await waitForText(screen, /› aaaaaaaaaaaaaaaaaaa1\s+revoked/)).toBeTruthy();
  });
});

describe('TUI registration policies', () => {
  it('are reached with r: listed with the default marked, the selected one\'s rules shown', async () => {
    const screen = render(<App api={withData()} />);
    await waitForText(screen, 'Shop');
    await press(screen, 'r');
    const frame = await waitForText(screen, 'rules of partner-a');
    expect(frame).toMatch(/› partner-a\s+Partner A/);
    expect(frame).toMatch(/ {2}strict\s+default/);
    expect(frame).toContain('"grant_types"');
    await press(screen, KEY.down);
    await waitForText(screen, 'rules of strict');
  });

  it('creates a policy from its name, description and rules as JSON; a refusal is shown and the text kept', async () => {
    const api = withData();
    api.refuse = (body) => ('max_client' in ((body.rules as object) ?? {}) ? new AdminApiError(400, 'invalid_request', 'unknown policy rule max_client') : undefined);
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Shop');
    await press(screen, 'r');
    await waitForText(screen, 'rules of partner-a');
    await press(screen, 'a');
    await waitForText(screen, 'registration policy · new');
    await type(screen, 'partner-b');
    await press(screen, KEY.tab);
    await type(screen, 'Partner B');
    await press(screen, KEY.tab, KEY.backspace, KEY.backspace);
    await type(screen, '{"max_client":3}');
    await press(screen, KEY.enter);
    await waitForText(screen, '400 invalid_request: unknown policy rule max_client');
    await press(screen, KEY.left, KEY.left, KEY.left, KEY.left);
    await type(screen, 's');
    await press(screen, KEY.enter);
    await waitForText(screen, 'policy partner-b created');
    expect(api.policies.find((p) => p.name === 'partner-b')).toMatchObject({ description: 'Partner B', rules: { max_clients: 3 } });
  });

  it('edits the rules of the selected policy; bad JSON is refused before the server', async () => {
    const api = withData();
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Shop');
    await press(screen, 'r');
    await waitForText(screen, 'rules of partner-a');
    await press(screen, 'e');
    await waitForText(screen, '{"grant_types":["authorization_code"]}');
    await press(screen, KEY.tab, KEY.backspace);
    await press(screen, KEY.enter);
    await waitForText(screen, 'rules must be JSON');
    await type(screen, ',"max_clients":2}');
    await press(screen, KEY.enter);
    await waitForText(screen, 'policy partner-a saved');
    expect(api.policies.find((p) => p.name === 'partner-a')!.rules).toEqual({ grant_types: ['authorization_code'], max_clients: 2 });
  });

  it('sets and clears the default, and deletes a policy after y', async () => {
    const api = withData();
    const screen = render(<App api={api} />);
    await waitForText(screen, 'Shop');
    await press(screen, 'r');
    await waitForText(screen, 'rules of partner-a');
    await press(screen, 'd');
    await waitForText(screen, 'partner-a is the default policy');
    expect(api.policies.filter((p) => p.is_default).map((p) => p.name)).toEqual(['partner-a']);
    await press(screen, 'u');
    await waitForText(screen, 'no default policy');
    expect(api.policies.some((p) => p.is_default)).toBe(false);
    await press(screen, 'x');
    await waitForText(screen, 'Delete policy partner-a?');
    await press(screen, 'y');
    await waitForText(screen, 'policy partner-a deleted');
    expect(api.policies.map((p) => p.name)).toEqual(['strict']);
  });
});
