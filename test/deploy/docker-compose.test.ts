import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * Static checks of the deployment files: docker-compose.yml, Dockerfile and .dockerignore. They
 * need no container engine; scripts/container-smoke.sh builds and runs the image for real.
 */

const root = new URL('../../', import.meta.url);
const readRootFile = (name: string): string => readFileSync(new URL(name, root), 'utf8');

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapping(value: unknown, what: string): Mapping {
  if (!isMapping(value)) throw new Error(`${what} is not a mapping`);
  return value;
}

/** Compose `environment` is either a mapping or a list of KEY=VALUE strings. */
function environmentOf(service: Mapping): Record<string, string> {
  const env = service.environment;
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const text = String(entry);
        const eq = text.indexOf('=');
        return eq === -1 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  if (isMapping(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
  return {};
}

/** A healthcheck `test` as one command line: ["CMD", ...], ["CMD-SHELL", "..."] or a plain string. */
function healthcheckCommand(service: Mapping): string {
  const healthcheck = service.healthcheck;
  if (!isMapping(healthcheck) || healthcheck.disable === true) return '';
  const test = healthcheck.test;
  if (typeof test === 'string') return test;
  if (Array.isArray(test) && (test[0] === 'CMD' || test[0] === 'CMD-SHELL')) return test.slice(1).map(String).join(' ');
  return '';
}

/** Named volumes a service mounts (short `name:/path` or long `{ type: volume, source }` syntax). */
function namedVolumeMounts(service: Mapping): { source: string; target: string }[] {
  const volumes = Array.isArray(service.volumes) ? service.volumes : [];
  return volumes.flatMap((volume) => {
    if (typeof volume === 'string') {
      const [source = '', target = ''] = volume.split(':');
      return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source) ? [{ source, target }] : [];
    }
    if (isMapping(volume) && volume.type === 'volume' && typeof volume.source === 'string') {
      return [{ source: volume.source, target: String(volume.target ?? '') }];
    }
    return [];
  });
}

describe('docker-compose.yml', () => {
  const text = readRootFile('docker-compose.yml');
  const compose = (): Mapping => mapping(parse(text), 'docker-compose.yml');
  const services = (): Mapping => mapping(compose().services, 'services');
  const service = (name: string): Mapping => mapping(services()[name], `services.${name}`);

  it('parses as YAML into a mapping with services', () => {
    expect(() => parse(text)).not.toThrow();
    expect(isMapping(compose().services)).toBe(true);
  });

  it('has the services postgres and registrar', () => {
    expect(Object.keys(services())).toEqual(expect.arrayContaining(['postgres', 'registrar']));
  });

  it('runs PostgreSQL 16', () => {
    expect(service('postgres').image).toMatch(/^postgres:16(\b|$)/);
  });

  it('health-checks postgres with pg_isready', () => {
    expect(healthcheckCommand(service('postgres'))).toMatch(/\bpg_isready\b/);
  });

  it('keeps the postgres data in a named volume declared under top-level volumes', () => {
    const mounts = namedVolumeMounts(service('postgres'));
    const dataMount = mounts.find((m) => m.target === '/var/lib/postgresql/data');
    expect(dataMount, 'a named volume mounted at /var/lib/postgresql/data').toBeDefined();
    const declared = isMapping(compose().volumes) ? Object.keys(compose().volumes as Mapping) : [];
    expect(declared).toContain(dataMount?.source);
  });

  it('builds registrar from the Dockerfile in the repository root', () => {
    const build = service('registrar').build;
    const context = isMapping(build) ? build.context : build;
    expect(context === '.' || context === './').toBe(true);
  });

  it('starts registrar only once postgres is healthy', () => {
    const dependsOn = service('registrar').depends_on;
    expect(isMapping(dependsOn), 'depends_on in mapping form (the list form cannot wait for health)').toBe(true);
    expect(mapping(mapping(dependsOn, 'depends_on').postgres, 'depends_on.postgres').condition).toBe('service_healthy');
  });

  it('points DATABASE_URL at the postgres service with its user and database', () => {
    const env = environmentOf(service('registrar'));
    const pgEnv = environmentOf(service('postgres'));
    expect(env.DATABASE_URL).toMatch(/^postgres(ql)?:\/\/[^@/]+@postgres(:5432)?\/[^/?#]+/);
    const url = new URL((env.DATABASE_URL ?? '').replace(/\$\{[^}]*\}/g, 'x'));
    expect(url.hostname).toBe('postgres');
    expect(url.username).toBe(pgEnv.POSTGRES_USER ?? 'postgres');
    expect(url.pathname.slice(1)).toBe(pgEnv.POSTGRES_DB ?? pgEnv.POSTGRES_USER ?? 'postgres');
  });

  it('requires SECRETS_KEY from the environment, with no default baked in', () => {
    expect(environmentOf(service('registrar')).SECRETS_KEY).toMatch(/^\$\{SECRETS_KEY:\?[^}]+\}$/);
  });

  it('sets ISSUER, defaulting to http://localhost:8080', () => {
    expect(environmentOf(service('registrar')).ISSUER).toBe('${ISSUER:-http://localhost:8080}');
  });

  it('listens on all interfaces inside the container (HOST=0.0.0.0)', () => {
    expect(environmentOf(service('registrar')).HOST).toBe('0.0.0.0');
  });

  it('publishes port 8080', () => {
    const ports = (service('registrar').ports as unknown[] | undefined) ?? [];
    const published = ports.map((p) => (isMapping(p) ? `${String(p.published)}:${String(p.target)}` : String(p)));
    expect(published).toContain('8080:8080');
  });

  it('health-checks registrar on /readyz', () => {
    expect(healthcheckCommand(service('registrar'))).toMatch(/\/readyz\b/);
  });
});

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, comments dropped and `\` continuations joined, grouped by FROM stage. */
function dockerfileStages(text: string): Instruction[][] {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${continued ? line.replace(/\\\s*$/, '') : line} `;
    if (!continued) {
      if (pending.trim() !== '') logical.push(pending.trim());
      pending = '';
    }
  }
  if (pending.trim() !== '') logical.push(pending.trim());

  const stages: Instruction[][] = [];
  for (const line of logical) {
    const match = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    if (!match) continue;
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.trim() };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

describe('Dockerfile', () => {
  const stages = dockerfileStages(readRootFile('Dockerfile'));
  const runtime = (): Instruction[] => stages.at(-1) ?? [];
  const args = (stage: Instruction[], keyword: string): string[] =>
    stage.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('is a multi-stage build: a node build stage and a slim runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(args(stages[0] ?? [], 'FROM')[0]).toMatch(/^node:24\b/);
    expect(args(runtime(), 'FROM')[0]).toMatch(/^node:24-(bookworm-)?slim\b/);
  });

  it('compiles TypeScript in a build stage, not in the runtime stage', () => {
    const buildRuns = stages.slice(0, -1).flatMap((stage) => args(stage, 'RUN'));
    expect(buildRuns.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(buildRuns.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    expect(args(runtime(), 'RUN').some((r) => /\bnpm run build\b|\btsc\b/.test(r))).toBe(false);
  });

  it('installs production dependencies only in the runtime stage (npm ci --omit=dev)', () => {
    expect(args(runtime(), 'RUN').some((r) => /\bnpm ci\b[^&;|]*--omit=dev\b/.test(r))).toBe(true);
  });

  it('copies dist/ from the build stage and migrations/ beside it', () => {
    const copies = args(runtime(), 'COPY');
    expect(copies.some((c) => /^--from=\S+\s+\S*\/dist\/?\s+\S*dist\/?$/.test(c))).toBe(true);
    expect(copies.some((c) => /^migrations\/?\s+\S*migrations\/?$/.test(c))).toBe(true);
  });

  it('runs as a non-root user', () => {
    const user = args(runtime(), 'USER').at(-1);
    expect(user, 'a USER instruction in the final stage').toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  it('listens on 0.0.0.0:8080 with production settings and a writable DATA_DIR', () => {
    const env = args(runtime(), 'ENV').join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bPORT=8080\b/);
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(env).toMatch(/\bDATA_DIR=\/app\/data\b/);
    expect(args(runtime(), 'RUN').some((r) => /\bchown\b[^&;|]*\bnode\b[^&;|]*\/app\/data\b/.test(r))).toBe(true);
    expect(args(runtime(), 'EXPOSE').join(' ')).toMatch(/\b8080\b/);
  });

  it('has a HEALTHCHECK on /readyz that needs no curl (node fetch)', () => {
    const healthcheck = args(runtime(), 'HEALTHCHECK').at(-1);
    expect(healthcheck, 'a HEALTHCHECK instruction in the final stage').toBeDefined();
    expect(healthcheck).not.toMatch(/^NONE$/i);
    expect(healthcheck).toMatch(/\/readyz\b/);
    expect(healthcheck).toMatch(/\bfetch\(/);
  });

  it('starts the compiled server directly with node', () => {
    expect(args(runtime(), 'CMD').at(-1)).toMatch(/^\[\s*"node"\s*,\s*"dist\/server\.js"\s*\]$/);
  });
});

describe('.dockerignore', () => {
  const patterns = readRootFile('.dockerignore')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps local build output, dependencies, data and git history out of the build context', () => {
    const ignored = (name: string) => patterns.some((p) => p.replace(/^\*\*\//, '').replace(/\/$/, '') === name);
    for (const name of ['node_modules', 'dist', 'data', '.git']) expect(ignored(name), name).toBe(true);
  });

  it('keeps what the build needs', () => {
    for (const needed of ['src', 'migrations', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(patterns, needed).not.toContain(needed);
      expect(patterns, needed).not.toContain(`${needed}/`);
    }
    expect(patterns).not.toContain('*');
  });
});
