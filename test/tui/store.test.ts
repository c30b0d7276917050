import { describe, expect, it } from 'vitest';
import { initialState, reducer, type Action, type TuiState } from '../../src/tui/store.js';

const run = (...actions: Action[]): TuiState => actions.reduce(reducer, initialState);

describe('TUI store', () => {
  it('opens on the first page of every client', () => {
    expect(initialState.screen).toEqual({ name: 'list' });
    expect(initialState.list).toEqual({ q: '', cursors: [undefined], selected: 0 });
  });

  it('pages forward with the server\'s cursors and back through the ones it kept', () => {
    const twoPagesOn = run({ type: 'list/next-page', cursor: 'c1' }, { type: 'list/next-page', cursor: 'c2' });
    expect(twoPagesOn.list.cursors).toEqual([undefined, 'c1', 'c2']);
    expect(reducer(twoPagesOn, { type: 'list/previous-page' }).list.cursors).toEqual([undefined, 'c1']);
    expect(run({ type: 'list/previous-page' }).list.cursors).toEqual([undefined]);
  });

  it('a new search starts again at the first page', () => {
    const state = run({ type: 'list/next-page', cursor: 'c1' }, { type: 'list/move', by: 3, rows: 10 }, { type: 'list/search', q: 'shop' });
    expect(state.list).toEqual({ q: 'shop', cursors: [undefined], selected: 0 });
  });

  it('the selection moves within the page', () => {
    expect(run({ type: 'list/move', by: 1, rows: 3 }, { type: 'list/move', by: 1, rows: 3 }).list.selected).toBe(2);
    expect(run({ type: 'list/move', by: 5, rows: 3 }).list.selected).toBe(2);
    expect(run({ type: 'list/move', by: -1, rows: 3 }).list.selected).toBe(0);
    expect(run({ type: 'list/move', by: 1, rows: 0 }).list.selected).toBe(0);
  });

  it('Enter opens the client the stored selection points at, even one moved in the same read', () => {
    const state = run({ type: 'list/move', by: 1, rows: 3 }, { type: 'list/open', clientIds: ['a', 'b', 'c'] });
    expect(state.screen).toEqual({ name: 'detail', clientId: 'b' });
    expect(run({ type: 'list/move', by: 5, rows: 9 }, { type: 'list/open', clientIds: ['a', 'b'] }).screen).toEqual({ name: 'detail', clientId: 'b' });
    expect(run({ type: 'list/open', clientIds: [] }).screen).toEqual({ name: 'list' });
  });

  it('back from an edit returns to the client, back from a client to the list, where the list was', () => {
    const editing = run({ type: 'list/next-page', cursor: 'c1' }, { type: 'open', clientId: 'a' }, { type: 'edit', clientId: 'a' });
    const detail = reducer(editing, { type: 'back' });
    expect(detail.screen).toEqual({ name: 'detail', clientId: 'a' });
    const list = reducer(detail, { type: 'back' });
    expect(list.screen).toEqual({ name: 'list' });
    expect(list.list.cursors).toEqual([undefined, 'c1']);
    expect(reducer(run({ type: 'add' }), { type: 'back' }).screen).toEqual({ name: 'list' });
  });

  it('a created client opens with its credentials, which are dropped once seen', () => {
    const created = run({ type: 'add' }, { type: 'created', clientId: 'n1', secrets: { client_secret: 's', registration_access_token: 't' } });
    expect(created.screen).toEqual({ name: 'detail', clientId: 'n1', secrets: { client_secret: 's', registration_access_token: 't' } });
    expect(created.notice).toBe('client n1 created');
    const seen = reducer(created, { type: 'secrets-seen' });
    expect(seen.screen).toEqual({ name: 'detail', clientId: 'n1' });
    expect(JSON.stringify(seen)).not.toContain('"s"');
  });

  it('a rotated secret is shown on the client\'s screen until seen', () => {
    const rotated = run({ type: 'open', clientId: 'a' }, { type: 'secret-rotated', clientId: 'a', clientSecret: 'new' });
    expect(rotated.screen).toEqual({ name: 'detail', clientId: 'a', secrets: { client_secret: 'new' } });
    expect(reducer(rotated, { type: 'secrets-seen' }).screen).toEqual({ name: 'detail', clientId: 'a' });
  });

  it('a rotation with a grace period also shows until when the previous secret works', () => {
    const rotated = run({ type: 'open', clientId: 'a' }, { type: 'secret-rotated', clientId: 'a', clientSecret: 'new', previousSecretUntil: 2_000_003_600 });
    expect(rotated.screen).toEqual({ name: 'detail', clientId: 'a', secrets: { client_secret: 'new', previous_secret_until: 2_000_003_600 } });
  });

  it('a deleted client leaves for the list with a notice', () => {
    const state = run({ type: 'open', clientId: 'a' }, { type: 'deleted', clientId: 'a' });
    expect(state.screen).toEqual({ name: 'list' });
    expect(state.notice).toBe('client a deleted');
  });
});
