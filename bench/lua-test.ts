// `roost lua test config/examples` wall-clock, as a user runs it: the built CLI spawned N times
// (process start, the runner thread, one Lua pool, a throw-away store per test, every example
// test). Prints each run's wall-clock and CPU time (user+system of the child), the median, and
// the load average when measured: the machine is shared, a busy one stretches wall-clock only.
// Target: under 2 s. Run: npm run build && node dist/bench/lua-test.js
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const walls: number[] = [];
const cpus: number[] = [];

for (let i = 0; i < RUNS; i++) {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, 'dist/src/cli/main.js', 'lua', 'test', 'config/examples'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const wall = performance.now() - started;
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`roost lua test config/examples exited with ${r.status}`);
  }
  const [user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  const tests = /(\d+) tests: /.exec(r.stdout)?.[1];
  walls.push(wall);
  cpus.push((user! + sys!) * 1000);
  console.log(`run ${i + 1}: ${(wall / 1000).toFixed(2)} s wall, ${((user! + sys!)).toFixed(2)} s CPU, ${tests} tests`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `roost lua test config/examples: median ${(median(walls) / 1000).toFixed(2)} s wall (min ${(Math.min(...walls) / 1000).toFixed(2)} s), ` +
    `median ${(median(cpus) / 1000).toFixed(2)} s CPU; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (target < 2 s wall)`,
);
