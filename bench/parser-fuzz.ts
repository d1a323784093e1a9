// How long the IMAP command reader and parser take on hostile input: the 2,000 seeded mutations
// of test/imap/protocol/fuzz.test.ts, timed one by one (median, p99, slowest), and a LIST
// pattern built to make a backtracking matcher explode. Prints figures; asserts nothing.
// Run: npm run build && node dist/bench/parser-fuzz.js
import { performance } from 'node:perf_hooks';
import { compileMailboxPattern } from '../src/imap/protocol/index.js';
import { feed, mutate, rng, SEEDS } from './fuzz-corpus.js';

const SAMPLES = 2000;
const r = rng(20261126);
const times: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const input = Buffer.concat([mutate(r, r.pick(SEEDS)), Buffer.from('\r\nz NOOP\r\n')]);
  const t0 = performance.now();
  feed(r, input);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
console.log(`parser: ${SAMPLES} mutated inputs, per input: median ${at(0.5).toFixed(3)} ms, p99 ${at(0.99).toFixed(2)} ms, slowest ${times.at(-1)!.toFixed(2)} ms`);

const t0 = performance.now();
const m = compileMailboxPattern('*a'.repeat(3000) + 'b', '/');
m.matches('a'.repeat(200));
m.mayMatchChildren('a'.repeat(200));
console.log(`LIST pattern "*a" x 3000 + "b" against 200 characters: ${(performance.now() - t0).toFixed(1)} ms`);
