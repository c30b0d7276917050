import { afterEach, describe, expect, it, vi } from 'vitest';
import { SYSTEM_CONTEXT } from '../../src/audit/audit.js';
import { purgeAudit } from '../../src/audit/retention.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { AuditRepository } from '../../src/storage/audit-repository.js';
import { ClientKeys } from '../../src/client-auth/client-keys.js';
import type { Database } from '../../src/storage/database.js';
import { freshDatabase, startTestServer, storageKind, TEST_SECRETS_KEY } from '../support/test-server.js';

const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);
const retention = (value?: string) =>
  loadConfig({ DATABASE_URL: 'postgres://u@db/x', SECRETS_KEY: TEST_SECRETS_KEY, ...(value !== undefined ? { AUDIT_RETENTION: value } : {}) }).audit.retentionSeconds;

async function seed(db: Database, ages: readonly number[]): Promise<void> {
  const audit = new AuditRepository(db);
  for (const age of ages) await audit.record({ action: 'key.rotate', context: SYSTEM_CONTEXT, details: { age }, at: now() - age });
}

const ages = async (db: Database) =>
  (await new AuditRepository(db).list({}, undefined, 200)).map((entry) => Number(entry.details.age)).sort((a, b) => a - b);

describe('AUDIT_RETENTION', () => {
  it('is 90 days by default; seconds or a number with s, m, h or d; 0 or forever keeps everything', () => {
    expect(retention()).toBe(90 * DAY);
    expect(retention('3600')).toBe(3600);
    expect(retention('90s')).toBe(90);
    expect(retention('15m')).toBe(900);
    expect(retention('12h')).toBe(12 * 3600);
    expect(retention('30d')).toBe(30 * DAY);
    expect(retention('0')).toBeNull();
    expect(retention('forever')).toBeNull();
  });

  it('refuses anything else, naming the variable', () => {
    for (const bad of ['90 days', '-1', '1w', 'never', '1.5d', '4000d']) {
      expect(() => retention(bad), bad).toThrow(ConfigError);
      expect(() => retention(bad), bad).toThrow(/^AUDIT_RETENTION: /);
    }
  });
});

describe(`audit purge (${storageKind})`, () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('deletes entries older than the retention in bounded batches, leaving the rest for the next purge', async () => {
    const { db, drop } = await freshDatabase();
    try {
      await seed(db, [10, 20, 100 * DAY, 101 * DAY, 102 * DAY, 103 * DAY, 104 * DAY, 105 * DAY, 106 * DAY]);
      const audit = new AuditRepository(db);
      // batches of 3, at most 2 a purge: the 6 oldest of the 7 old entries go now, one waits
      expect(await purgeAudit(audit, now() - 90 * DAY, 3, 2)).toBe(6);
      expect(await ages(db)).toEqual([10, 20, 100 * DAY]);
      expect(await purgeAudit(audit, now() - 90 * DAY, 3, 2)).toBe(1);
      expect(await ages(db)).toEqual([10, 20]);
      expect(await purgeAudit(audit, now() - 90 * DAY, 3, 2)).toBe(0);
    } finally {
      await db.close();
      await drop();
    }
  });

  it('runs in the background on the server\'s purge timer (every 60 s) with AUDIT_RETENTION', async () => {
    vi.useFakeTimers({ toFake: ['setInterval'] });
    const server = await startTestServer({ AUDIT_RETENTION: '1h' });
    try {
      await seed(server.db, [60, 2 * 3600, 3 * 3600]);
      vi.advanceTimersByTime(60_000);
      await vi.waitFor(async () => expect(await ages(server.db)).toEqual([60]), { timeout: 5_000 });
    } finally {
      await server.close();
    }
  });

  it('keeps every entry with AUDIT_RETENTION=forever', async () => {
    vi.useFakeTimers({ toFake: ['setInterval'] });
    const server = await startTestServer({ AUDIT_RETENTION: 'forever' });
    try {
      await seed(server.db, [60, 400 * DAY]);
      const purgeBatch = vi.spyOn(AuditRepository.prototype, 'purgeBatch');
      const sweep = vi.spyOn(ClientKeys.prototype, 'sweep');
      vi.advanceTimersByTime(60_000);
      // the purge task has run to its end (the key cache sweep comes last in it)
      await vi.waitFor(() => expect(sweep).toHaveBeenCalled(), { timeout: 5_000 });
      expect(purgeBatch).not.toHaveBeenCalled();
      expect(await ages(server.db)).toEqual([60, 400 * DAY]);
    } finally {
      await server.close();
    }
  });
});
