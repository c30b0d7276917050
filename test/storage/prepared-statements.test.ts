import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { connectPostgres } from '../../src/storage/postgres.js';
import type { Database } from '../../src/storage/database.js';
import { freshDatabase, TEST_DATABASE_URL } from '../support/test-server.js';

/**
 * Statements with parameters run as named prepared statements on PostgreSQL. A migration run by
 * another instance (a rolling upgrade) can change what a prepared `SELECT *` returns, which
 * PostgreSQL then refuses ("cached plan must not change result type"): the statement must run
 * again, unnamed, rather than fail every request on that connection.
 */
describe.skipIf(!TEST_DATABASE_URL)('prepared statements (postgres)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Database;

  beforeAll(async () => {
    database = await freshDatabase();
    // one connection: the statement is prepared on the connection the next query uses
    db = connectPostgres(database.url!, 1, pino({ level: 'silent' }));
    await db.exec('CREATE TABLE plan_probe (id integer PRIMARY KEY, name text)');
    await db.exec("INSERT INTO plan_probe VALUES (1, 'one')");
  });
  afterAll(async () => {
    await db.close();
    await database.db.close();
    await database.drop();
  });

  it('answers the same after another connection adds a column to a table it selects * from', async () => {
    const select = 'SELECT * FROM plan_probe WHERE id = $1';
    expect(await db.query(select, [1])).toEqual([{ id: 1, name: 'one' }]);
    expect(await db.query(select, [1])).toEqual([{ id: 1, name: 'one' }]); // prepared by now
    const other = new pg.Client({ connectionString: database.url! });
    await other.connect();
    await other.query('ALTER TABLE plan_probe ADD COLUMN note text');
    await other.end();
    expect(await db.query(select, [1])).toEqual([{ id: 1, name: 'one', note: null }]);
    expect(await db.query(select, [1])).toEqual([{ id: 1, name: 'one', note: null }]);
  });
});
