// `npm start` runs this first (prestart): it builds dist/ only when dist/ is missing or older than
// the sources, so a fresh clone's `npm install && npm start` works and later starts do not wait
// for the compiler. Plain JavaScript: it runs before anything is compiled.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = (path) => join(root, path);

const SOURCES = ['src', 'tsconfig.json', 'tsconfig.build.json'];
const ENTRY = 'dist/server.js';
/** tsc rewrites it only when it emits something, so a build that changed nothing leaves it old. */
const TSBUILDINFO = 'dist/.tsbuildinfo';
/** Written here after each build, dated when that build started. */
const STAMP = 'dist/.build-stamp';

function newestChange(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestChange(join(path, name))));
}

function mtimeOrZero(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

function say(message) {
  process.stderr.write(`oidc-registrar: ${message}\n`);
}

// an installed image or package carries dist/ without the sources: nothing to compare
if (!existsSync(at('src'))) process.exit(existsSync(at(ENTRY)) ? 0 : 1);

const builtAt = Math.max(mtimeOrZero(at(TSBUILDINFO)), mtimeOrZero(at(STAMP)));
const missing = !existsSync(at(ENTRY));
const sourcesChangedAt = Math.max(...SOURCES.filter((path) => existsSync(at(path))).map((path) => newestChange(at(path))));
if (!missing && sourcesChangedAt <= builtAt) process.exit(0);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  if (missing) {
    say(`${ENTRY} is missing and TypeScript is not installed: run npm install first`);
    process.exit(1);
  }
  say('src/ is newer than dist/, but TypeScript is not installed (npm install): starting the existing build');
  process.exit(0);
}

say(missing ? `building dist/ (${ENTRY} is missing)` : 'building dist/ (src/ changed since the last build)');
const started = new Date();
// tsc --incremental trusts its build info and would not write again an output deleted since
if (missing) rmSync(at(TSBUILDINFO), { force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
} catch {
  say('the build failed (see above)');
  process.exit(1);
}
if (!existsSync(at(ENTRY))) {
  say(`the build did not write ${ENTRY}`);
  process.exit(1);
}
writeFileSync(at(STAMP), `${started.toISOString()}\n`);
// dated when the build started: a source saved while tsc ran is still newer, and built next time
utimesSync(at(STAMP), started, started);
