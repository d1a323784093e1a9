// `npm run bench -- NAME...` runs bench/NAME.ts (built to dist/bench/NAME.js) one after the other;
// without a name it lists them. Each script prints its own figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const distBench = fileURLToPath(new URL('../dist/bench/', import.meta.url));
// Helpers that are not bench scripts themselves.
const HELPERS = new Set(['server-child', 'fuzz-corpus']);
const names = readdirSync(distBench)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3))
  .filter((n) => !HELPERS.has(n))
  .sort();
const wanted = process.argv.slice(2);
if (wanted.length === 0) {
  console.log(`usage: npm run bench -- NAME...\nbench scripts: ${names.join(' ')}`);
  process.exit(0);
}
for (const name of wanted) {
  if (!names.includes(name)) {
    console.error(`no bench script named ${name} (have: ${names.join(' ')})`);
    process.exit(2);
  }
  console.log(`== ${name}`);
  const r = spawnSync(process.execPath, [`${distBench}${name}.js`], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
