// `roost lua test [--filter TEXT] [--junit FILE] [--watch] [FILE|DIR]...` runs Lua test files
// against the real Lua runtime (src/cli/lua-test/); `roost lua check SCRIPT...` compiles scripts
// and lists their Dovecot entry points and compatibility warnings.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { checkScript } from '../../lua/script-check.js';
import { displayPath, formatWarning } from '../lua-test/paths.js';
import {
  exitCodeOf,
  findTestFiles,
  LuaTestUsageError,
  runTestFiles,
  summarize,
  summaryLine,
  writeJunit,
} from '../lua-test/runner.js';
import { optionValue, parseArgs, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';

const USAGE = `usage: roost lua test [--filter TEXT] [--junit FILE] [--watch] [FILE|DIR]...
       roost lua check SCRIPT...`;

export async function runLua(env: CliEnv, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'test') return luaTest(env, rest);
  if (sub === 'check') return luaCheck(env, rest);
  throw new UsageError(sub ? `Unknown lua command: ${sub}\n${USAGE}` : USAGE, 2);
}

async function luaTest(env: CliEnv, argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, [
      { names: ['filter'], value: true },
      { names: ['junit'], value: true },
      { names: ['watch'], value: false },
    ]);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${e.message}\n${USAGE}`, 2);
    throw e;
  }
  const targets = args.positional.length ? args.positional : ['.'];
  const filter = optionValue(args, 'filter');
  const junit = optionValue(args, 'junit');

  const once = async (): Promise<{ code: number; watched: string[] }> => {
    let files: string[];
    try {
      files = findTestFiles(targets);
    } catch (e) {
      if (e instanceof LuaTestUsageError) throw new UsageError(e.message, 2);
      throw e;
    }
    if (files.length === 0) {
      env.io.err(`roost: no *_test.lua files in ${targets.join(' ')}\n`);
      return { code: 2, watched: targets.map((t) => path.resolve(t)) };
    }
    const started = performance.now();
    const reports = await runTestFiles(files, { out: env.io.out, ...(filter ? { filter } : {}) });
    const ms = performance.now() - started;
    const summary = summarize(reports);
    env.io.out(summaryLine(summary, ms));
    if (junit) writeJunit(junit, reports, ms);
    const watched = new Set<string>([...targets.map((t) => path.resolve(t)), ...files]);
    for (const r of reports) for (const s of r.scripts) watched.add(s);
    return { code: exitCodeOf(summary), watched: [...watched] };
  };

  if (!args.options.has('watch')) return (await once()).code;
  return watchLoop(env, once);
}

/** Reruns whenever a test file, a tested directory or a script under test changes. Runs until killed. */
async function watchLoop(env: CliEnv, once: () => Promise<{ code: number; watched: string[] }>): Promise<number> {
  for (;;) {
    const { watched } = await once();
    env.io.out('watching for changes (Ctrl-C to stop)\n');
    await new Promise<void>((resolve) => {
      const watchers: FSWatcher[] = [];
      let timer: NodeJS.Timeout | null = null;
      const changed = () => {
        if (timer) clearTimeout(timer);
        // Editors write a file in several steps: wait for them to settle.
        timer = setTimeout(() => {
          for (const w of watchers) w.close();
          resolve();
        }, 100);
      };
      for (const p of watched) {
        try {
          const w = watch(p, { recursive: false }, changed);
          w.on('error', changed); // e.g. the file was deleted: run again, which reports it
          watchers.push(w);
        } catch {
          // a file that disappeared: its directory is watched too when it was given
        }
      }
    });
    env.io.out('\nchange detected, running again\n');
  }
}

async function luaCheck(env: CliEnv, files: string[]): Promise<number> {
  if (files.length === 0) throw new UsageError(USAGE, 2);
  let code = 0;
  for (const file of files) {
    const shown = displayPath(path.resolve(file));
    let r;
    try {
      r = await checkScript(file, shown);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      env.io.err(`roost: ${shown}: ${err.code === 'ENOENT' ? 'No such file or directory' : err.message}\n`);
      code = 2;
      continue;
    }
    if (r.syntaxError) {
      env.io.out(`${r.syntaxError}\n`);
      code = Math.max(code, 1);
      continue;
    }
    env.io.out(`${shown}: syntax ok\n`);
    env.io.out(`  entry points: ${r.entryPoints.length ? r.entryPoints.join(', ') : '(none: Dovecot would call nothing in this script)'}\n`);
    for (const w of r.warnings) env.io.out(`${formatWarning(shown, w)}\n`);
    if (r.skipped) env.io.out(`  compatibility checks skipped: ${r.skipped}\n`);
  }
  return code;
}
