// SIGHUP for `roost serve`. The signal's default action ends the process, so an operator's
// `kill -HUP` (or a config-management tool's reload) sent while the server is still starting would
// stop it. This module has no imports of ours: main.ts evaluates it before it loads the rest of
// the program, so when the process is `roost serve` the handler is installed before the program's
// modules are even loaded (what is left of the window is Node's own start). SIGHUPs that
// arrive before serve is ready to reload are remembered and become one reload once it is.
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let listener: (() => void) | null = null;
let missed = 0;
let installed = false;

function onSignal(): void {
  if (listener) listener();
  else missed++;
}

/** Catches SIGHUP from now on (idempotent); true when this call installed the handler. */
export function catchHangups(): boolean {
  if (installed) return false;
  process.on('SIGHUP', onSignal);
  installed = true;
  return true;
}

/** Stops catching SIGHUP (the default action applies again). */
export function releaseHangups(): void {
  process.off('SIGHUP', onSignal);
  installed = false;
  listener = null;
  missed = 0;
}

/**
 * Sends SIGHUPs to `fn` from now on; null queues them again. SIGHUPs caught while nobody
 * listened are coalesced into one call, made now.
 */
export function onHangup(fn: (() => void) | null): void {
  listener = fn;
  if (fn && missed > 0) {
    missed = 0;
    fn();
  }
}

/** The verb of `roost [-c FILE] [-o K=V]... VERB ...` (cli.ts's splitGlobal, in short). */
export function verbOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (a === '-c' || a === '--config' || a === '-o') i++;
    else if (!a.startsWith('--config=')) return a;
  }
  return undefined;
}

/** Whether this process is `node .../main.js serve` (not a test runner importing the CLI). */
function startedAsServe(): boolean {
  const invoked = process.argv[1];
  if (!invoked || verbOf(process.argv.slice(2)) !== 'serve') return false;
  try {
    return realpathSync(invoked) === realpathSync(join(dirname(fileURLToPath(import.meta.url)), 'main.js'));
  } catch {
    return false;
  }
}

if (startedAsServe()) catchHangups();
