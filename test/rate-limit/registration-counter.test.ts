import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistrationCounter, type RegistrationVerdict } from '../../src/rate-limit/registration-store.js';
import type { Database } from '../../src/storage/database.js';
import { RateLimitRepository } from '../../src/storage/rate-limit-repository.js';
import { freshDatabase, storageKind } from '../support/test-server.js';

const minute = { windowMs: 60_000 };
const refusedBy = (verdicts: RegistrationVerdict[]) => verdicts.map((verdict) => (verdict.refused ? verdict.by : 'ok'));

/**
 * Registrations counted together (one statement for all that arrive while one is in flight)
 * get the verdicts they would have got counted one by one, in order of arrival.
 */
describe(`batched registration counting (${storageKind})`, () => {
  let db: Database;
  let drop: () => Promise<void>;
  let calls = 0;
  beforeAll(async () => ({ db, drop } = await freshDatabase()));
  afterAll(async () => {
    await db.close();
    await drop();
  });

  const counter = (perAddress: number | undefined, global: number | undefined, now = () => 1_000_000) => {
    const repository = new RateLimitRepository(db);
    const hitBatch = repository.hitBatch.bind(repository);
    repository.hitBatch = (...args) => {
      calls += 1;
      return hitBatch(...args);
    };
    return new RegistrationCounter(
      repository,
      {
        perAddress: perAddress === undefined ? undefined : { ...minute, max: perAddress, text: `${perAddress}/minute` },
        global: global === undefined ? undefined : { ...minute, max: global, text: `${global}/minute` },
      },
      now,
    );
  };

  it('per address: the first N of a burst pass in arrival order, the rest are refused; one statement serves many', async () => {
    const count = counter(3, undefined);
    calls = 0;
    const addresses = ['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1'];
    const verdicts = await Promise.all(addresses.map((address) => count.count(address)));
    expect(refusedBy(verdicts)).toEqual(['ok', 'ok', 'ok', 'ok', 'address', 'ok', 'address']);
    // the first refusal of the window is marked once (the warning is logged once a window)
    expect(verdicts.filter((verdict) => verdict.refused && verdict.first)).toHaveLength(1);
    expect(verdicts[4]).toMatchObject({ refused: true, retryAfterMs: 60_000, first: true });
    expect(calls).toBeLessThan(addresses.length);
    // counted on: the next one from 10.0.0.1 is refused too, one from 10.0.0.2 is the third
    expect(refusedBy([await count.count('10.0.0.1'), await count.count('10.0.0.2')])).toEqual(['address', 'ok']);
  });

  it('the global ceiling counts only what the addresses admit, in arrival order', async () => {
    const count = counter(2, 4);
    const addresses = ['10.1.0.1', '10.1.0.1', '10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.3'];
    const verdicts = await Promise.all(addresses.map((address) => count.count(address)));
    // 10.1.0.1's third is over its own limit and does not use up the shared ceiling
    expect(refusedBy(verdicts)).toEqual(['ok', 'ok', 'address', 'ok', 'ok', 'global']);
    expect(verdicts[5]).toMatchObject({ refused: true, by: 'global', first: true });
  });

  it('with only a global ceiling, every request is shared', async () => {
    const count = counter(undefined, 3, () => 5_000_000);
    const verdicts = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((address) => count.count(`10.2.0.${address.charCodeAt(0)}`)));
    expect(refusedBy(verdicts)).toEqual(['ok', 'ok', 'ok', 'global', 'global']);
  });

  it('a window that has ended starts again at the requests of the batch', async () => {
    let now = 9_000_000;
    const count = counter(1, undefined, () => now);
    expect(refusedBy(await Promise.all([count.count('10.3.0.1'), count.count('10.3.0.1')]))).toEqual(['ok', 'address']);
    now += 60_000;
    expect(refusedBy(await Promise.all([count.count('10.3.0.1'), count.count('10.3.0.1')]))).toEqual(['ok', 'address']);
  });
});
