import { isDeepStrictEqual } from 'node:util';
import { rawSettingsJson } from '../admin/settings.js';
import type { ClientSettings } from '../storage/client-repository.js';

/** What of a client the audit trail compares: its metadata and its operator settings. */
export interface ClientState {
  metadata: Readonly<Record<string, unknown>>;
  settings: ClientSettings;
}

/**
 * The names of the top-level metadata fields and settings that differ between `before` and
 * `after` (added, removed or changed), sorted; with no `before` (a new client), the names of
 * every field the client has and every setting that is not the default. Names only: a value,
 * a secret's above all, never reaches the audit trail.
 */
export function changedFieldNames(before: ClientState | undefined, after: ClientState, defaults?: ClientSettings): string[] {
  const names = new Set<string>();
  const beforeMetadata = before?.metadata ?? {};
  for (const name of new Set([...Object.keys(beforeMetadata), ...Object.keys(after.metadata)])) {
    if (!isDeepStrictEqual(beforeMetadata[name], after.metadata[name])) names.add(name);
  }
  const baseSettings = before?.settings ?? defaults;
  const afterSettings = rawSettingsJson(after.settings);
  const beforeSettings = baseSettings === undefined ? undefined : rawSettingsJson(baseSettings);
  for (const [name, value] of Object.entries(afterSettings)) {
    if (beforeSettings === undefined || !isDeepStrictEqual(beforeSettings[name as keyof typeof beforeSettings], value)) names.add(name);
  }
  return [...names].sort();
}

/** The credentials a change issued or removed, by name, after the field names. */
export function withCredentials(names: readonly string[], credentials: { client_secret?: boolean; registration_access_token?: boolean }): string[] {
  return [...names, ...Object.entries(credentials).filter(([, changed]) => changed).map(([name]) => name)];
}
