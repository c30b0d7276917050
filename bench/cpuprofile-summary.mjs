// Summarises a V8 .cpuprofile (node --cpu-prof): where the sampled thread's time went.
//
//   node bench/cpuprofile-summary.mjs FILE.cpuprofile [--top N] [--grep REGEX]
//
// Prints self time by function, self time by area (our dist/ code, each npm package, Node
// internals, GC, idle) and inclusive time by function (time with the function anywhere on the
// stack; async continuations are not joined, so a function's awaited work is not included).
// Only the main thread is sampled: work Node hands to the libuv pool (WebCrypto signing and
// verifying, for one) shows up as (idle) or (program) here, not under the function that asked.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function shortUrl(url) {
  if (url === '') return '';
  let path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path.startsWith(ROOT)) path = path.slice(ROOT.length);
  const nm = path.lastIndexOf('node_modules/');
  return nm >= 0 ? path.slice(nm + 'node_modules/'.length) : path;
}

/** The area a frame belongs to: app code, an npm package, Node itself, or a V8 pseudo-frame. */
function areaOf(frame) {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const path = shortUrl(url);
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, url.includes('internal/') ? 2 : 1).join('/')}`;
  if (url.includes('node_modules/')) {
    const parts = path.split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.startsWith('dist/')) return `app ${path.split('/').slice(0, 2).join('/')}`;
  return path;
}

function frameName(frame) {
  const name = frame.functionName || '(anonymous)';
  const url = shortUrl(frame.url);
  return url === '' ? name : `${name}  ${url}:${frame.lineNumber + 1}`;
}

/** Self and inclusive milliseconds by function and by area. */
export function analyseProfile(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);

  // time of sample i: until the next sample (the last one gets the mean interval)
  const { samples, timeDeltas } = profile;
  const total = (profile.endTime - profile.startTime) / 1000;
  const mean = total / Math.max(1, samples.length);
  const durations = samples.map((_, i) => (i + 1 < timeDeltas.length ? timeDeltas[i + 1] / 1000 : mean));

  const selfByFunction = new Map();
  const selfByArea = new Map();
  const inclusive = new Map();
  const add = (map, key, ms) => map.set(key, (map.get(key) ?? 0) + ms);
  samples.forEach((id, i) => {
    const ms = Math.max(0, durations[i]);
    const frame = nodes.get(id).callFrame;
    add(selfByFunction, frameName(frame), ms);
    add(selfByArea, areaOf(frame), ms);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const name = frameName(nodes.get(at).callFrame);
      if (!seen.has(name)) {
        seen.add(name);
        add(inclusive, name, ms);
      }
    }
  });
  const sorted = (map) => [...map.entries()].sort((a, b) => b[1] - a[1]);
  const idle = selfByArea.get('(idle)') ?? 0;
  return { totalMs: total, idleMs: idle, busyMs: total - idle, selfByFunction: sorted(selfByFunction), selfByArea: sorted(selfByArea), inclusive: sorted(inclusive) };
}

const PSEUDO = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

export function formatProfileSummary(analysis, top = 25) {
  const { totalMs, busyMs } = analysis;
  const pct = (ms) => `${((100 * ms) / busyMs).toFixed(1).padStart(5)}%`;
  const ms = (value) => `${value.toFixed(0).padStart(7)} ms`;
  const lines = [];
  lines.push(`profile: ${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s not idle (percentages are of the not-idle time)`);
  lines.push('', 'self time by area:');
  for (const [area, value] of analysis.selfByArea.filter(([a]) => a !== '(idle)').slice(0, top)) lines.push(`  ${ms(value)} ${pct(value)}  ${area}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [name, value] of analysis.selfByFunction.filter(([n]) => n !== '(idle)').slice(0, top)) lines.push(`  ${ms(value)} ${pct(value)}  ${name}`);
  lines.push('', `top ${top} functions by inclusive time (synchronous stacks only):`);
  const inclusive = analysis.inclusive.filter(([n]) => !PSEUDO.has(n.split('  ')[0]));
  for (const [name, value] of inclusive.slice(0, top)) lines.push(`  ${ms(value)} ${pct(value)}  ${name}`);
  return lines.join('\n');
}

export function summariseProfileFile(file, top = 25) {
  return formatProfileSummary(analyseProfile(JSON.parse(readFileSync(file, 'utf8'))), top);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 2)[1] : undefined;
  };
  const top = Number(option('--top') ?? 25);
  const grep = option('--grep');
  if (args.length !== 1) {
    console.error('usage: node bench/cpuprofile-summary.mjs FILE.cpuprofile [--top N] [--grep REGEX]');
    process.exit(2);
  }
  if (grep === undefined) {
    console.log(summariseProfileFile(args[0], top));
  } else {
    // self and inclusive time of the functions whose "name  file:line" matches
    const analysis = analyseProfile(JSON.parse(readFileSync(args[0], 'utf8')));
    const self = new Map(analysis.selfByFunction);
    const pattern = new RegExp(grep);
    console.log(`not-idle time ${analysis.busyMs.toFixed(0)} ms; inclusive / self ms for functions matching ${pattern}:`);
    for (const [name, inclusive] of analysis.inclusive.filter(([n]) => pattern.test(n)).slice(0, top)) {
      console.log(`  ${inclusive.toFixed(0).padStart(7)} ${(self.get(name) ?? 0).toFixed(0).padStart(7)}  ${name}`);
    }
  }
}
