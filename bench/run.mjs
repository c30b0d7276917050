// `npm run bench` (builds first, then runs this file): picks the suite.
//
//   default               the issue-10 comparison: ours, node-oidc-provider durable and in memory,
//                         bare Fastify and bare node:http (compare.mjs)
//   BENCH_SCALE=1         ours at 10^3 and at 10^6 stored clients (scale.mjs)
//   BENCH_SOAK_SECONDS=N  ours under a steady mixed load for N seconds, RSS sampled (soak.mjs)
//   BENCH_SUITE=legacy    the scenario bench with the observability side by side (legacy.mjs);
//                         setting BENCH_SCENARIOS picks it too, the scenario names are its own
//
// Each prints its tables and writes bench/results.json.

const suite = process.env.BENCH_SUITE ?? '';
const SUITES = ['', 'compare', 'legacy', 'scale', 'soak'];
if (!SUITES.includes(suite)) {
  console.error(`BENCH_SUITE must be one of ${SUITES.filter(Boolean).join(', ')}, got "${suite}"`);
  process.exit(1);
}

if (suite === 'legacy' || (suite === '' && (process.env.BENCH_SCENARIOS ?? '').trim() !== '')) {
  await import('./legacy.mjs');
} else if (suite === 'scale' || (suite === '' && (process.env.BENCH_SCALE ?? '') !== '' && process.env.BENCH_SCALE !== '0')) {
  await import('./scale.mjs');
} else if (suite === 'soak' || (suite === '' && (process.env.BENCH_SOAK_SECONDS ?? '') !== '')) {
  await import('./soak.mjs');
} else {
  await import('./compare.mjs');
}
