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

let chosen = './compare.mjs';
if (suite === 'legacy' || (suite === '' && (process.env.BENCH_SCENARIOS ?? '').trim() !== '')) chosen = './legacy.mjs';
else if (suite === 'scale' || (suite === '' && (process.env.BENCH_SCALE ?? '') !== '' && process.env.BENCH_SCALE !== '0')) chosen = './scale.mjs';
else if (suite === 'soak' || (suite === '' && (process.env.BENCH_SOAK_SECONDS ?? '') !== '')) chosen = './soak.mjs';

const { main } = await import(chosen);
main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
