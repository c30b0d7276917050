import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Database } from './database.js';
import { classifyDatabaseError } from './unavailable.js';

/**
 * PGlite is one PostgreSQL backend in this process; two processes opening the same directory
 * would corrupt it. A lock file holding our pid makes the second one stop with a clear message.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = join(dataDir, 'registrar.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lockFile, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new Error(`DATA_DIR ${dataDir} is in use by process ${owner}; the embedded database allows one server at a time`);
      }
      rmSync(lockFile, { force: true }); // left behind by a process that is gone
    }
  }
  throw new Error(`could not lock DATA_DIR ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** False until a first start has created the database (PGlite runs initdb then: the slow part). */
export function embeddedDatabaseExists(dataDir: string): boolean {
  return existsSync(join(dataDir, 'pgdata', 'PG_VERSION'));
}

export interface EmbeddedOptions {
  /**
   * A data directory tarball (PGlite `dumpDataDir`) to start from instead of running initdb:
   * tests load one migrated template rather than paying for initdb and migrations each time.
   */
  loadDataDir?: Blob;
}

/** `dataDir` undefined: in memory, for tests. */
export async function openEmbedded(dataDir: string | undefined, options: EmbeddedOptions = {}): Promise<Database> {
  let unlock = (): void => undefined;
  if (dataDir !== undefined) {
    mkdirSync(join(dataDir, 'pgdata'), { recursive: true, mode: 0o700 });
    unlock = lockDataDir(dataDir);
  }
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir === undefined ? 'memory://' : join(dataDir, 'pgdata'), options.loadDataDir ? { loadDataDir: options.loadDataDir } : {});
  } catch (error) {
    unlock();
    throw error;
  }
  // PGlite is one connection that runs one operation at a time: the others queue behind it
  let pending = 0;
  // a request still running while the server shuts down meets a closed database: unavailable, not a bug
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    pending++;
    try {
      return await work();
    } catch (error) {
      throw classifyDatabaseError(error);
    } finally {
      pending--;
    }
  };
  return {
    kind: 'embedded',
    query: (sql, params) => guard(async () => (await db.query(sql, params as unknown[] | undefined)).rows as never),
    exec: (sql) => guard(async () => void (await db.exec(sql))),
    ping: () => guard(async () => void (await db.query('SELECT 1'))),
    transaction: (work) =>
      guard(() =>
        db.transaction((tx) =>
          work({
            query: async (sql, params) => (await tx.query(sql, params as unknown[] | undefined)).rows as never,
            exec: async (sql) => void (await tx.exec(sql)),
          }),
        ),
      ),
    connections: () => ({ total: 1, idle: pending === 0 ? 1 : 0, waiting: Math.max(0, pending - 1) }),
    async close() {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}
