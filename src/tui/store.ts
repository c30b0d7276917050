/**
 * The TUI's state: which screen is open, where the client list stands, and what the operator must
 * see once. Screens fetch and show their own data; they report what happened through actions, so
 * moving between screens is one pure function, tested without a terminal.
 */

/** Credentials the server issues once (creating a client, rotating its secret): shown, then dropped. */
export interface OneTimeSecrets {
  client_secret?: string;
  registration_access_token?: string;
  /** After a rotation with a grace period: until when (epoch seconds) the previous secret keeps working. */
  previous_secret_until?: number;
}

export type Screen =
  | { name: 'list' }
  | { name: 'detail'; clientId: string; secrets?: OneTimeSecrets }
  | { name: 'form'; mode: 'add' }
  | { name: 'form'; mode: 'edit'; clientId: string }
  /** The audit log: every entry, or one client's (opened from its detail screen). */
  | { name: 'audit'; clientId?: string }
  | { name: 'tokens' }
  | { name: 'policies' }
  /** Local user accounts. */
  | { name: 'users' }
  /** The policy editor: a new policy without a name, an existing one with it. */
  | { name: 'policy-form'; policyName?: string };

export interface ListPosition {
  /** The search text sent as `q`; empty: every client. */
  q: string;
  /** The cursor of each page visited, the first page's undefined; the last is the page shown. */
  cursors: (string | undefined)[];
  selected: number;
}

export interface TuiState {
  screen: Screen;
  list: ListPosition;
  /** A one-line message about the last action ("client deleted"), cleared by the next screen change. */
  notice: string | undefined;
}

export type Action =
  | { type: 'list/search'; q: string }
  | { type: 'list/next-page'; cursor: string }
  | { type: 'list/previous-page' }
  /** Moves the selection by `by` rows within a page of `rows`. */
  | { type: 'list/move'; by: number; rows: number }
  /** Opens the selected one of the page's clients: the selection as stored, moved or not by keys of the same read. */
  | { type: 'list/open'; clientIds: readonly string[] }
  | { type: 'open'; clientId: string }
  | { type: 'add' }
  | { type: 'audit'; clientId?: string }
  | { type: 'edit'; clientId: string }
  | { type: 'back' }
  | { type: 'created'; clientId: string; secrets: OneTimeSecrets }
  | { type: 'saved'; clientId: string; notice: string }
  | { type: 'deleted'; clientId: string }
  | { type: 'secret-rotated'; clientId: string; clientSecret: string; previousSecretUntil?: number }
  | { type: 'secrets-seen' }
  | { type: 'tokens' }
  | { type: 'policies' }
  | { type: 'users' }
  | { type: 'edit-policy'; policyName?: string }
  | { type: 'policy-saved'; notice: string };

export const initialState: TuiState = {
  screen: { name: 'list' },
  list: { q: '', cursors: [undefined], selected: 0 },
  notice: undefined,
};

const go = (state: TuiState, screen: Screen, notice?: string): TuiState => ({ ...state, screen, notice });

export function reducer(state: TuiState, action: Action): TuiState {
  switch (action.type) {
    case 'list/search':
      return { ...state, list: { q: action.q, cursors: [undefined], selected: 0 }, notice: undefined };
    case 'list/next-page':
      return { ...state, list: { ...state.list, cursors: [...state.list.cursors, action.cursor], selected: 0 } };
    case 'list/previous-page':
      if (state.list.cursors.length <= 1) return state;
      return { ...state, list: { ...state.list, cursors: state.list.cursors.slice(0, -1), selected: 0 } };
    case 'list/move': {
      const last = Math.max(0, action.rows - 1);
      return { ...state, list: { ...state.list, selected: Math.max(0, Math.min(last, Math.min(state.list.selected, last) + action.by)) } };
    }
    case 'list/open': {
      const clientId = action.clientIds[Math.min(state.list.selected, action.clientIds.length - 1)];
      return clientId === undefined ? state : go(state, { name: 'detail', clientId });
    }
    case 'open':
      return go(state, { name: 'detail', clientId: action.clientId });
    case 'add':
      return go(state, { name: 'form', mode: 'add' });
    case 'audit':
      return go(state, action.clientId === undefined ? { name: 'audit' } : { name: 'audit', clientId: action.clientId });
    case 'edit':
      return go(state, { name: 'form', mode: 'edit', clientId: action.clientId });
    case 'back': {
      const { screen } = state;
      // an edit, and a client's audit log, return to the client; everything else to the list
      if (screen.name === 'form' && screen.mode === 'edit') return go(state, { name: 'detail', clientId: screen.clientId });
      if (screen.name === 'audit' && screen.clientId !== undefined) return go(state, { name: 'detail', clientId: screen.clientId });
      // the policy editor returns to the policies
      if (screen.name === 'policy-form') return go(state, { name: 'policies' });
      return go(state, { name: 'list' });
    }
    case 'created':
      // the newest client heads the list (newest first), so the list starts over
      return {
        ...go(state, { name: 'detail', clientId: action.clientId, secrets: action.secrets }, `client ${action.clientId} created`),
        list: { ...state.list, cursors: [undefined], selected: 0 },
      };
    case 'saved':
      return go(state, { name: 'detail', clientId: action.clientId }, action.notice);
    case 'deleted':
      return go(state, { name: 'list' }, `client ${action.clientId} deleted`);
    case 'secret-rotated':
      return go(
        state,
        {
          name: 'detail',
          clientId: action.clientId,
          secrets: {
            client_secret: action.clientSecret,
            ...(action.previousSecretUntil !== undefined ? { previous_secret_until: action.previousSecretUntil } : {}),
          },
        },
        'client secret rotated',
      );
    case 'tokens':
      return go(state, { name: 'tokens' });
    case 'policies':
      return go(state, { name: 'policies' });
    case 'users':
      return go(state, { name: 'users' });
    case 'edit-policy':
      return go(state, action.policyName === undefined ? { name: 'policy-form' } : { name: 'policy-form', policyName: action.policyName });
    case 'policy-saved':
      return go(state, { name: 'policies' }, action.notice);
    case 'secrets-seen':
      if (state.screen.name !== 'detail') return state;
      return { ...state, screen: { name: 'detail', clientId: state.screen.clientId } };
  }
}
