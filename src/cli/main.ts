#!/usr/bin/env node
// `roost`: the program's entry. It evaluates hangup.ts (Node's own modules only) and loads the
// rest of the program afterwards, so that `roost serve` catches SIGHUP before the module loading
// (a few hundred milliseconds on a busy machine) rather than after it: ESM loads every static
// import of a module before running any of them.
import './hangup.js';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Whether this module is the program node was started with (not imported). argv[1] is the path as
 * invoked: through a symlink (`npm link`, `npm install -g`, `npx`, node_modules/.bin) it names the
 * link, so both sides are compared after resolving links.
 */
function isEntryPoint(): boolean {
  const invoked = process.argv[1];
  if (!invoked) return false;
  try {
    return realpathSync(invoked) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const { runAsProcess } = await import('./cli.js');
  runAsProcess(process.argv.slice(2));
}
