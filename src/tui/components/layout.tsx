import { Box, Text } from 'ink';
import { AdminApiError } from '../../admin-client/types.js';

/** The parts every screen shares: a title line, one-line messages, and the keys it answers to. */

export function Title({ children, detail }: { children: string; detail?: string | undefined }) {
  return (
    <Box marginBottom={1}>
      <Text bold color="cyan">
        oidc-registrar · {children}
      </Text>
      {detail ? <Text dimColor> · {detail}</Text> : null}
    </Box>
  );
}

export function Message({ kind, text }: { kind: 'notice' | 'error' | 'warning'; text: string | undefined }) {
  if (text === undefined || text === '') return null;
  const color = kind === 'notice' ? 'green' : kind === 'error' ? 'red' : 'yellow';
  return <Text color={color}>{kind === 'error' ? `✗ ${text}` : text}</Text>;
}

/** The footer: `[key, what it does]` pairs. */
export function KeyHelp({ keys }: { keys: readonly (readonly [string, string])[] }) {
  return (
    <Box marginTop={1} flexWrap="wrap">
      {keys.map(([key, what]) => (
        <Box key={key} marginRight={2}>
          <Text bold>{key}</Text>
          <Text dimColor> {what}</Text>
        </Box>
      ))}
    </Box>
  );
}

/** An admin API failure as one line: the server's error and description, or the local cause. */
export function describeError(error: unknown): string {
  if (error instanceof AdminApiError) return `${error.status} ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
