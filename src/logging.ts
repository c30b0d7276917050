import { pino, type DestinationStream, type Logger } from 'pino';
import { PRIVATE_JWK_MEMBERS } from './protocol/jwk.js';

/** Fields that carry credentials, wherever they sit in a logged object. */
const SECRET_FIELDS = [
  'client_secret',
  'registration_access_token',
  'initial_access_token',
  'client_assertion',
  'access_token',
  'refresh_token',
  'authorization',
  'password',
  'password_hash',
  'passwordHash',
];


export const REDACTED_PATHS = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]),
  ...PRIVATE_JWK_MEMBERS.flatMap((m) => [`keys[*].${m}`, `*.keys[*].${m}`, `*.*.keys[*].${m}`, `jwk.${m}`, `*.jwk.${m}`, `key.${m}`, `*.key.${m}`]),
  'req.headers.cookie',
  // database errors carry the statement's parameters (PGlite: query and params)
  'err.params',
  'err.query',
  'secretsKey',
  '*.secretsKey',
  '*.secretsKeys',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'oidc-registrar' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        // The path only: a query string is caller-controlled and may carry anything, tokens included.
        req: (req: { id?: unknown; method?: string; url?: string; ip?: string }) => ({
          id: req.id,
          method: req.method,
          path: req.url?.split('?')[0],
          remoteAddress: req.ip,
        }),
      },
    },
    destination,
  );
}
