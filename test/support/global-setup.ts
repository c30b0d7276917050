import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';
import { openEmbedded } from '../../src/storage/embedded.js';
import { migrate } from '../../src/storage/migrate.js';
import { generateServerKeyPair } from '../../src/tokens/server-keys.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * Embedded runs: one database migrated by the real code, made once for the whole run. A new
     * PGlite costs seconds (initdb); loading this dump takes about half a second.
     */
    embeddedTemplate: EmbeddedTemplate | null;
    /** One RS256 key pair for the whole run, which test servers start with (test-server.ts says why). */
    serverRsaKeyPair: Awaited<ReturnType<typeof generateServerKeyPair>>;
  }
}

export interface EmbeddedTemplate {
  /** A DATA_DIR (its pgdata only, no secrets key) to copy for tests that start the server process. */
  dataDir: string;
  /** The same data directory as a PGlite `dumpDataDir` tarball, uncompressed (loads faster). */
  dump: string;
  /** The same before the migrations: a new database, for the tests of the migrations. */
  unmigratedDump: string;
}

/** Opens the data directory of DATA_DIR `dataDir` (creating it) and writes it as a tarball. */
async function dump(dataDir: string, file: string): Promise<string> {
  const pglite = await PGlite.create(join(dataDir, 'pgdata'));
  try {
    await writeFile(file, new Uint8Array(await (await pglite.dumpDataDir('none')).arrayBuffer()));
    return file;
  } finally {
    await pglite.close();
  }
}

async function makeEmbeddedTemplate(root: string): Promise<EmbeddedTemplate> {
  const dataDir = join(root, 'data');
  await mkdir(join(dataDir, 'pgdata'), { recursive: true, mode: 0o700 });
  const unmigratedDump = await dump(dataDir, join(root, 'unmigrated.tar')); // initdb
  const db = await openEmbedded(dataDir);
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return { dataDir, dump: await dump(dataDir, join(root, 'pgdata.tar')), unmigratedDump };
}

/**
 * Process tests run the built server exactly as `npm start` does, so it is built once first; the
 * embedded template is made meanwhile. The teardown removes the template's folder.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const build = promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']).catch(
    (error: { stdout?: string; stderr?: string }) => {
      throw new Error(`the build failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    },
  );
  const root = await mkdtemp(join(tmpdir(), 'registrar-template-'));
  const teardown = () => rm(root, { recursive: true, force: true });
  // an interrupted run (Ctrl-C) exits without the teardown
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const [template, built] = await Promise.allSettled([process.env.TEST_DATABASE_URL ? null : makeEmbeddedTemplate(root), build]);
  if (template.status === 'rejected' || built.status === 'rejected') {
    await teardown();
    throw built.status === 'rejected' ? built.reason : (template as PromiseRejectedResult).reason;
  }
  project.provide('embeddedTemplate', template.value);
  project.provide('serverRsaKeyPair', await generateServerKeyPair('RS256'));
  return teardown;
}
