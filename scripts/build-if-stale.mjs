#!/usr/bin/env node
// Runs `npm run build` (src/ to dist/) only when a file under src/ (TypeScript, Lua chunks, SQL migrations) is
// newer than the compiled CLI, so `npm start` and `npm run roost` cost a directory walk, not
// a TypeScript compile, on every call. Plain JavaScript: it has to run before anything is built.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'dist/src/cli/main.js');

/** Newest modification time under `dir` (folders count too: deleting a file changes its folder). */
function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function builtAt() {
  try {
    return statSync(output).mtimeMs;
  } catch {
    return -1;
  }
}

// Installed without sources (the Docker image's dependency layer runs `npm ci` before copying
// src/): there is nothing to build yet.
try {
  statSync(join(root, 'src'));
} catch {
  process.exit(0);
}

const inputs = Math.max(
  newestMtime(join(root, 'src')),
  statSync(join(root, 'tsconfig.json')).mtimeMs,
  statSync(join(root, 'tsconfig.build.json')).mtimeMs,
);
if (builtAt() < inputs) {
  // The same build as `npm run build` (tsc, then the Lua chunks and SQL migrations copied beside the output), through
  // the npm that runs this script when there is one.
  const npm = process.env.npm_execpath;
  const run = npm
    ? spawnSync(process.execPath, [npm, 'run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
    : spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  // tsc emits even with type errors; a failed build must not run as if it were current.
  if (run.status !== 0) process.exit(run.status ?? 1);
}
