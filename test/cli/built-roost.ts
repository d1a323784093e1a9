// The built `roost` command, run as a user runs it: `node dist/src/cli/main.js ...` in a child
// process (the jest process would keep the event loop alive and hide lifecycle bugs).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = join(ROOT, 'dist/src/cli/main.js');

/**
 * Compiles src/cli/main.ts and what it imports to dist/, like `npm run build` (the jest
 * globalSetup builds the worker entries). Unchanged files are not rewritten and changed ones are
 * replaced atomically, so tests running at the same time never see a half-written file. The
 * entry file's time is then set to now: with the worker entries, all of src/ the command runs is
 * compiled, so `npm start` / `npm run roost` (scripts/build-if-stale.mjs) need not build again.
 */
export function buildCli(): void {
  const read = ts.readConfigFile(join(ROOT, 'tsconfig.build.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
  const program = ts.createProgram([join(ROOT, 'src/cli/main.ts')], { ...parsed.options, noEmitOnError: false });
  const result = program.emit(undefined, (file, text) => {
    if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  });
  if (result.emitSkipped) throw new Error('compiling src/cli/main.ts failed');
  const now = new Date();
  utimesSync(MAIN, now, now);
}

export interface RoostRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (bounded), with optional stdin. */
export function run(file: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RoostRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(Object.assign(err, { stdout, stderr }));
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** `roost ARGS...` through `node dist/src/cli/main.js`. */
export function roost(args: string[], opts: { cwd?: string; input?: string } = {}): Promise<RoostRun> {
  return run(process.execPath, [MAIN, ...args], opts);
}

/** `n` distinct free loopback ports (all held open while choosing, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer());
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}
