// Environment settings shared by the bench suites.

export function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return Number(raw);
}

/** BENCH_SERVER_ENV, "NAME=value NAME=value": extra settings of our server, for experiments. */
export function serverEnvFromEnvironment() {
  const serverEnv = {};
  for (const pair of (process.env.BENCH_SERVER_ENV ?? '').split(/\s+/).filter((p) => p !== '')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (!match) throw new Error(`BENCH_SERVER_ENV: "${pair}" is not NAME=value`);
    serverEnv[match[1]] = match[2];
  }
  return serverEnv;
}
