import type { StoredClient } from '../storage/client-repository.js';

/**
 * Why a client may not authenticate or manage itself now, or undefined when it may: an operator
 * disabled it, or its expiry (an operator setting) has passed. The reason is for the log only.
 */
export function clientUnusable(client: Pick<StoredClient, 'settings'>, now: number): string | undefined {
  if (client.settings.disabled) return 'the client is disabled';
  if (client.settings.expiresAt !== null && client.settings.expiresAt <= now) return 'the client has expired (operator setting expires_at)';
  return undefined;
}
