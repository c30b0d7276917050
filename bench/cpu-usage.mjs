// CPU time of the server (main thread apart from its other threads), of PostgreSQL and of this
// load generator, so each scenario can say which of them used the machine's cores. Linux only
// (/proc); elsewhere the figures are null.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const HAS_PROC = existsSync('/proc/self/stat');

function clockTicksPerSecond() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
const TICKS = HAS_PROC ? clockTicksPerSecond() : 100;

/** utime + stime of a /proc stat file, in seconds; undefined if it vanished. */
function statSeconds(file) {
  return statTimes(file)?.total;
}

/** utime, stime and their sum from a /proc stat file, in seconds; undefined if it vanished. */
function statTimes(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // fields after "(comm)", which may itself hold spaces or parentheses
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]) / TICKS; // fields 14 and 15 of proc(5)
  const system = Number(fields[12]) / TICKS;
  return { user, system, total: user + system };
}

function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Server threads: the main (JavaScript) thread and all others (libuv pool, GC, compiler). */
function serverSeconds(pid) {
  let main = 0;
  let mainSystem = 0;
  let others = 0;
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  for (const tid of tasks) {
    const times = statTimes(`/proc/${pid}/task/${tid}/stat`);
    if (times === undefined) continue;
    if (tid === String(pid)) {
      main += times.total;
      mainSystem += times.system;
    } else {
      others += times.total;
    }
  }
  return { main, mainSystem, others };
}

/** All processes named postgres (a local server); backends that exited in between are missed. */
function postgresSeconds() {
  let total = 0;
  let found = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || !commOf(entry).startsWith('postgres')) continue;
    found = true;
    total += statSeconds(`/proc/${entry}/stat`) ?? 0;
  }
  return found ? total : undefined;
}

/** Busy time of the whole machine (all CPUs, everything but idle and iowait), in seconds. */
function machineBusySeconds() {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    return (user + nice + system + irq + softirq + (steal ?? 0)) / TICKS;
  } catch {
    return undefined;
  }
}

/** A reading to pass to cpuSince() later. */
export function cpuSnapshot(serverPid) {
  const self = process.cpuUsage();
  return {
    at: performance.now(),
    server: HAS_PROC ? serverSeconds(serverPid) : undefined,
    postgres: HAS_PROC ? postgresSeconds() : undefined,
    bench: (self.user + self.system) / 1e6,
    machine: HAS_PROC ? machineBusySeconds() : undefined,
  };
}

/** Cores used (1.0 = one core busy) between `before` and now, per party. */
export function cpuSince(before, serverPid) {
  const after = cpuSnapshot(serverPid);
  const seconds = (after.at - before.at) / 1000;
  const per = (a, b) => (a === undefined || b === undefined ? null : Number(((a - b) / seconds).toFixed(2)));
  const result = {
    serverMainCores: per(after.server?.main, before.server?.main),
    // the part of it spent in the kernel (socket reads and writes, on loopback the receiver's side too)
    serverMainSystemCores: per(after.server?.mainSystem, before.server?.mainSystem),
    serverOtherThreadCores: per(after.server?.others, before.server?.others),
    postgresCores: per(after.postgres, before.postgres),
    benchCores: per(after.bench, before.bench),
    machineBusyCores: per(after.machine, before.machine),
  };
  // whatever else ran meanwhile (other people's test runs, the kernel's own work): it competes
  // with the server for the same cores, so a large figure here means a depressed result
  const ours = [result.serverMainCores, result.serverOtherThreadCores, result.postgresCores, result.benchCores];
  result.otherCores =
    result.machineBusyCores === null || ours.includes(null)
      ? null
      : Number(Math.max(0, result.machineBusyCores - ours.reduce((a, b) => a + b, 0)).toFixed(2));
  return result;
}
