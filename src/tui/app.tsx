import { Box, useApp } from 'ink';
import { useReducer } from 'react';
import type { AdminApi } from '../admin-client/types.js';
import { useTerminalSize } from './components/terminal-size.js';
import { AuditLog } from './screens/audit-log.js';
import { ClientDetail } from './screens/client-detail.js';
import { ClientForm } from './screens/client-form.js';
import { ClientList } from './screens/client-list.js';
import { InitialAccessTokens } from './screens/initial-access-tokens.js';
import { Policies, PolicyForm } from './screens/policies.js';
import { Users } from './screens/users.js';
import { initialState, reducer, type TuiState } from './store.js';

export interface AppProps {
  /** Every read and change goes through it: the TUI can do nothing the admin API refuses. */
  api: AdminApi;
  /** Clients a page; by default as many as the terminal shows. */
  pageSize?: number;
  /** Fill the terminal's height (full-screen); off in component tests. */
  fullScreen?: boolean;
  initial?: TuiState;
}

/** The root: the screen the store names, each given the admin API and the store's dispatch. */
export function App({ api, pageSize, fullScreen = false, initial = initialState }: AppProps) {
  const [state, dispatch] = useReducer(reducer, initial);
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const { screen } = state;

  let shown;
  if (screen.name === 'list') {
    shown = (
      <ClientList
        api={api}
        position={state.list}
        pageSize={pageSize ?? Math.min(200, Math.max(3, rows - 10))}
        width={columns}
        notice={state.notice}
        dispatch={dispatch}
        onQuit={() => exit()}
      />
    );
  } else if (screen.name === 'detail') {
    shown = (
      <ClientDetail
        key={screen.clientId}
        api={api}
        clientId={screen.clientId}
        secrets={screen.secrets}
        notice={state.notice}
        height={rows}
        dispatch={dispatch}
      />
    );
  } else if (screen.name === 'audit') {
    shown = <AuditLog key={`audit ${screen.clientId ?? ''}`} api={api} clientId={screen.clientId} pageSize={pageSize ?? Math.min(200, Math.max(2, Math.floor((rows - 8) / 2)))} dispatch={dispatch} />;
  } else if (screen.name === 'tokens') {
    shown = <InitialAccessTokens api={api} notice={state.notice} dispatch={dispatch} />;
  } else if (screen.name === 'policies') {
    shown = <Policies api={api} notice={state.notice} dispatch={dispatch} />;
  } else if (screen.name === 'users') {
    shown = <Users api={api} notice={state.notice} dispatch={dispatch} />;
  } else if (screen.name === 'policy-form') {
    shown = <PolicyForm key={screen.policyName ?? 'new policy'} api={api} policyName={screen.policyName} dispatch={dispatch} />;
  } else if (screen.mode === 'add') {
    shown = <ClientForm key="add" api={api} mode="add" dispatch={dispatch} />;
  } else {
    shown = <ClientForm key={`edit ${screen.clientId}`} api={api} mode="edit" clientId={screen.clientId} dispatch={dispatch} />;
  }
  // One row short of the terminal: a frame as tall as the terminal makes ink clear the screen on
  // every change, which flickers.
  return (
    <Box flexDirection="column" width={columns} {...(fullScreen ? { height: rows - 1 } : {})}>
      {shown}
    </Box>
  );
}
