import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminApiError } from '../../src/admin-client/types.js';
import { App } from '../../src/tui/app.js';
import { initialState } from '../../src/tui/store.js';
import { FakeAdminApi, fakeClient } from './fake-admin-api.js';
import { KEY, press, type, waitForText } from './ink-keys.js';

afterEach(cleanup);

const addForm = async (api: FakeAdminApi) => {
  const screen = render(<App api={api} />);
  await waitForText(screen, 'a add client');
  await press(screen, 'a');
  await waitForText(screen, 'oidc-registrar · add client');
  return screen;
};

/**
 * The field's row (its label after the focus mark) and the lines under it up to the next field:
 * the hint when focused, then its error, wrapped lines joined.
 */
const fieldBlock = (frame: string, field: string): { row: string; below: string } => {
  const lines = frame.split('\n');
  const at = lines.findIndex((line) => new RegExp(`^[› ] ${field}(\\s|$)`).test(line));
  expect(at, `${field} on screen:\n${frame}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, index) => index > at && (line.trim() === '' || /^[› ] [a-z_]+(\s|$)/.test(line)));
  return { row: lines[at]!, below: lines.slice(at + 1, end).join(' ').replace(/\s+/g, ' ').trim() };
};

/** From the first field, Shift-Tab twice reaches Save (the ring ends: fields, Save, Cancel). */
const toSaveFromFirstField = [KEY.pageUp, KEY.pageUp, KEY.pageUp, KEY.pageUp, KEY.pageUp, KEY.shiftTab, KEY.shiftTab];

describe('TUI client form', () => {
  it('Add: a form in sections, sent as one POST; the new client opens with its credentials shown once', async () => {
    const api = new FakeAdminApi();
    const screen = await addForm(api);
    expect(screen.lastFrame()).toMatch(/1 Basics.*2 Redirect and other URIs.*3 Authentication and keys.*4 Grants and scopes/s);
    await type(screen, 'My RP');
    await press(screen, KEY.tab, KEY.right, KEY.right); // application_type: (default) → web → native
    expect(await waitForText(screen, '‹ native ›')).toContain('Basics');
    await press(screen, KEY.tab);
    expect(await waitForText(screen, 'comma- or space-separated')).toMatch(/› redirect_uris/);
    await type(screen, 'com.example.app:/cb http://127.0.0.1/cb');
    await press(screen, KEY.pageDown, KEY.pageDown, KEY.tab, KEY.tab); // Grants and scopes: scope
    await type(screen, 'openid profile');
    await press(screen, ...toSaveFromFirstField);
    expect(await waitForText(screen, /\[ Save \]/)).toBeTruthy();
    await press(screen, KEY.enter);

    const frame = await waitForText(screen, 'client new-client-1 created');
    expect(api.calls.find((call) => call.method === 'createClient')!.args[0]).toEqual({
      client_name: 'My RP',
      application_type: 'native',
      redirect_uris: ['com.example.app:/cb', 'http://127.0.0.1/cb'],
      scope: 'openid profile',
      disabled: false,
      admin: false,
      resource_server: false,
    });
    expect(frame).toContain('⚠ Copy this now: it will not be shown again.');
    expect(frame).toContain('client_secret secret-1');
    expect(frame).toContain('registration_access_token rat-1');
    await press(screen, KEY.enter);
    expect(await waitForText(screen, 'e edit')).not.toContain('secret-1');
  });

  it('keys that arrive in one read (a paste, Tab with text) all count', async () => {
    const api = new FakeAdminApi();
    const screen = await addForm(api);
    await press(screen); // the form listens from its first effect on
    for (const key of ['Fast', ' ', 'client', KEY.tab, KEY.tab, 'https://rp.example/cb']) screen.stdin.write(key);
    const frame = await waitForText(screen, 'https://rp.example/cb');
    expect(frame).toMatch(/› redirect_uris\s+https:\/\/rp\.example\/cb/);
    await press(screen, KEY.pageUp);
    await waitForText(screen, /› client_name\s+Fast client/);
  });

  it('text and control keys in a single read (tmux send-keys "abc" Enter, a paste) are split into keys', async () => {
    const api = new FakeAdminApi();
    const screen = await addForm(api);
    await press(screen, 'Pasted\t\thttps://rp.example/cb\u007f\u007fcb2\u001b[5~\u001b[Z\u001b[Z\r');
    await waitForText(screen, 'client new-client-1 created');
    expect(api.calls.find((call) => call.method === 'createClient')!.args[0]).toMatchObject({ client_name: 'Pasted', redirect_uris: ['https://rp.example/cb2'] });
  });

  it('a server error that names a field is shown next to that field, in its section', async () => {
    const api = new FakeAdminApi();
    api.refuse = (body) =>
      Array.isArray(body.redirect_uris) && String(body.redirect_uris[0]).startsWith('http://')
        ? new AdminApiError(400, 'invalid_redirect_uri', 'redirect_uris[0] may use http only on a loopback host (localhost, 127.0.0.1, [::1])')
        : undefined;
    const screen = await addForm(api);
    await press(screen, KEY.tab, KEY.tab);
    await type(screen, 'http://rp.example/cb');
    await press(screen, KEY.pageUp, KEY.shiftTab, KEY.shiftTab, KEY.enter);

    const frame = await waitForText(screen, 'may use http only');
    expect(frame).toContain('2 Redirect and other URIs ! ');
    expect(frame).toContain('✗ refused: see redirect_uris');
    const { row, below } = fieldBlock(frame, 'redirect_uris');
    expect(row).toMatch(/^› redirect_uris\s+http:\/\/rp\.example\/cb/);
    expect(below).toBe('comma- or space-separated ✗ redirect_uris[0] may use http only on a loopback host (localhost, 127.0.0.1, [::1])');
    expect(fieldBlock(frame, 'post_logout_redirect_uris').below).toBe('');

    // editing the field clears its message; the corrected form is accepted
    await press(screen, KEY.home, KEY.right, KEY.right, KEY.right, KEY.right, 's');
    expect(await waitForText(screen, 'https://rp.example/cb')).not.toContain('may use http only');
    await press(screen, KEY.pageUp, KEY.shiftTab, KEY.shiftTab, KEY.enter);
    await waitForText(screen, 'client new-client-1 created');
  });

  it('a server error that names no field of the form is shown at the top', async () => {
    const api = new FakeAdminApi();
    api.refuse = () => new AdminApiError(400, 'invalid_client_metadata', 'jwks holds no signing key usable with token_endpoint_auth_signing_alg ES256');
    const screen = await addForm(api);
    await press(screen, KEY.shiftTab, KEY.shiftTab, KEY.enter);
    const frame = await waitForText(screen, '✗ 400 invalid_client_metadata: jwks holds no signing key');
    expect(frame.indexOf('jwks holds')).toBeLessThan(frame.indexOf('Basics\n'));
    expect(frame).toContain('oidc-registrar · add client');
  });

  it('text that is not a number or a date is shown next to its field, and nothing is sent', async () => {
    const api = new FakeAdminApi();
    const screen = await addForm(api);
    await press(screen, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.tab); // Tokens: access_token_lifetime
    await type(screen, '5 minutes');
    await press(screen, KEY.pageUp, KEY.pageUp, KEY.pageUp, KEY.pageUp, KEY.shiftTab, KEY.shiftTab, KEY.enter);
    const frame = await waitForText(screen, 'is not a whole number of seconds');
    expect(fieldBlock(frame, 'access_token_lifetime').below).toBe('seconds; empty: the server\'s default ✗ access_token_lifetime: "5 minutes" is not a whole number of seconds');
    expect(api.calls.map((call) => call.method)).not.toContain('createClient');
  });

  it('Edit: starts from the client and sends a PATCH of the changed fields only', async () => {
    const api = new FakeAdminApi([
      fakeClient({ client_id: 'c1', client_name: 'Old name', redirect_uris: ['https://rp.example/cb'], jwks: { keys: [{ kty: 'EC' }] }, contacts: ['a@rp.example'] }),
    ]);
    const screen = render(<App api={api} initial={{ ...initialState, screen: { name: 'detail', clientId: 'c1' } }} />);
    await waitForText(screen, 'e edit');
    await press(screen, 'e');
    let frame = await waitForText(screen, /› client_name\s+Old name/);
    expect(frame).toContain('oidc-registrar · edit client · c1');
    await press(screen, '\u0015'); // Ctrl+U: clear to the start
    await type(screen, 'New name');
    await press(screen, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.tab, KEY.space); // Lifecycle: disabled → yes
    await waitForText(screen, '‹ yes ›');
    await press(screen, KEY.tab, KEY.tab, KEY.tab, KEY.enter); // admin, resource_server, Save
    frame = await waitForText(screen, /saved: client_name, disabled[\s\S]*client_name\s+New name/);
    expect(api.calls.filter((call) => call.method === 'patchClient')).toEqual([{ method: 'patchClient', args: ['c1', { client_name: 'New name', disabled: true }] }]);
    expect(api.calls.map((call) => call.method)).not.toContain('replaceClient');
    expect(api.clients[0]).toMatchObject({ jwks: { keys: [{ kty: 'EC' }] }, contacts: ['a@rp.example'] });
  });

  it('resource_server is a flag beside admin: sent on Add, and on Edit when changed, and shown on the detail screen', async () => {
    const api = new FakeAdminApi();
    const screen = await addForm(api);
    await type(screen, 'Gateway');
    await press(screen, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.tab, KEY.tab, KEY.tab); // Lifecycle: resource_server
    let frame = await waitForText(screen, 'resource servers may introspect every access token');
    expect(fieldBlock(frame, 'admin').row).toMatch(/^ {2}admin\s+no/);
    expect(fieldBlock(frame, 'resource_server').row).toMatch(/^› resource_server\s+‹ no ›/);
    await press(screen, KEY.space);
    await waitForText(screen, /› resource_server\s+‹ yes ›/);
    await press(screen, KEY.tab, KEY.enter); // Save
    frame = await waitForText(screen, 'client new-client-1 created');
    expect(api.calls.find((call) => call.method === 'createClient')!.args[0]).toEqual({ client_name: 'Gateway', disabled: false, admin: false, resource_server: true });
    await press(screen, KEY.enter); // the credentials are copied
    await waitForText(screen, 'e edit');
    await press(screen, ...Array<string>(30).fill(KEY.down)); // the settings come last
    frame = await waitForText(screen, /^resource_server\s+yes$/m);
    expect(frame).toMatch(/^admin\s+no$/m);

    // Edit: turned off again, sent alone as a merge PATCH
    await press(screen, 'e');
    await waitForText(screen, /› client_name\s+Gateway/);
    await press(screen, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.pageDown, KEY.tab, KEY.tab, KEY.tab, KEY.space);
    await waitForText(screen, /› resource_server\s+‹ no ›/);
    await press(screen, KEY.tab, KEY.enter);
    await waitForText(screen, 'saved: resource_server');
    await press(screen, ...Array<string>(30).fill(KEY.down));
    frame = await waitForText(screen, /^resource_server\s+no$/m);
    expect(frame).toMatch(/^resource_server\s+no$/m);
    expect(api.calls.filter((call) => call.method === 'patchClient')).toEqual([{ method: 'patchClient', args: ['new-client-1', { resource_server: false }] }]);
  });

  it('Edit without changes sends nothing; Esc cancels', async () => {
    const api = new FakeAdminApi([fakeClient({ client_id: 'c1', client_name: 'Same' })]);
    const screen = render(<App api={api} initial={{ ...initialState, screen: { name: 'form', mode: 'edit', clientId: 'c1' } }} />);
    await waitForText(screen, /› client_name\s+Same/);
    await press(screen, KEY.shiftTab, KEY.shiftTab, KEY.enter);
    await waitForText(screen, 'nothing changed');
    await press(screen, 'e');
    await waitForText(screen, /› client_name\s+Same/);
    await type(screen, ' and more');
    await press(screen, KEY.escape);
    expect(await waitForText(screen, /client_name\s+Same\n/)).not.toContain('and more');
    expect(api.calls.map((call) => call.method)).toEqual(['getClient', 'getClient', 'getClient', 'getClient']);
  });
});
