// `roost lua test`: finds the test files, runs each in the Lua runner thread against a
// TestFileHost, prints results and a summary, writes JUnit XML. Exit codes: 0 all passed,
// 1 a test failed, 2 a usage or load error.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { luaChunk } from '../../lua/lua-chunks.js';
import { defaultSettings, type Settings } from '../../config/index.js';
import { TEST_GATEWAY_ENV } from '../../lua/http-protocol.js';
import { HttpGateway } from './http-gateway.js';
import { luaPoolSettings } from '../context.js';
import { RecordingPool } from './recording-pool.js';
import { TestFileHost, type FileReport } from './host.js';
import { displayPath } from './paths.js';
import type { RunnerMessage, RunnerRequest } from './runner-protocol.js';

export interface RunOptions {
  filter?: string;
  out: (text: string) => void;
}

export class LuaTestUsageError extends Error {}

/** The runner thread's compiled entry (from sources, as under ts-jest, the one in dist/: threads load no .ts). */
function runnerWorkerUrl(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../../dist/src/cli/lua-test/runner-worker.js', here) : new URL('./runner-worker.js', here);
  if (!existsSync(fileURLToPath(url))) throw new Error(`${fileURLToPath(url)} is missing: run "npm run build" first`);
  return url;
}

/** FILE arguments as they are; a DIR gives every `*_test.lua` below it, sorted. */
export function findTestFiles(args: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('_test.lua')) files.push(path.resolve(p));
    }
  };
  for (const a of args) {
    let st;
    try {
      st = statSync(a);
    } catch {
      throw new LuaTestUsageError(`${a}: No such file or directory`);
    }
    if (st.isDirectory()) walk(a);
    else files.push(path.resolve(a));
  }
  return files;
}

/** Runs the files one after the other; the reports in order. */
export async function runTestFiles(files: string[], opts: RunOptions): Promise<FileReport[]> {
  const gateway = new HttpGateway();
  // The HTTP helper threads of the pool's workers read it from their environment (http-worker.ts).
  process.env[TEST_GATEWAY_ENV] = await gateway.start();
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(runnerWorkerUrl(), { workerData: { port: port2, flag }, transferList: [port2] });
  const source = luaChunk('roost-test.lua').source;
  const reports: FileReport[] = [];
  const pools = new Map<string, RecordingPool>();
  const poolFor = (settings: Settings): RecordingPool => {
    // One worker (unless lua_workers says) is plenty for a test's sessions and starts fastest;
    // the pool grows only when lua_max_workers is set (a spare worker would cost a start-up).
    const limits = { ...luaPoolSettings(settings, 1), maxWorkers: settings.lua_max_workers || settings.lua_workers || 1 };
    const key = JSON.stringify(limits);
    let pool = pools.get(key);
    if (!pool) pools.set(key, (pool = new RecordingPool(limits)));
    return pool;
  };
  // The pool for the default limits starts now, while the runner thread loads the first file.
  poolFor(defaultSettings());
  try {
    for (const file of files) {
      const displayName = displayPath(file);
      const host = new TestFileHost(file, displayName, gateway, poolFor);
      opts.out(`${displayName}\n`);
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: RunnerMessage) => {
          if (m.kind === 'done') {
            port1.off('message', onMessage);
            worker.off('error', reject);
            resolve();
            return;
          }
          void host.handle(m.op, m.args).then((reply) => {
            if (m.op === 'finish') printResult(host.report, opts.out);
            if (m.op === 'setup') for (const w of host.report.warnings) opts.out(`  ${w}\n`);
            port1.postMessage({ reply });
            Atomics.store(flag, 0, 1);
            Atomics.notify(flag, 0);
          });
        };
        port1.on('message', onMessage);
        worker.once('error', reject);
        port1.postMessage({ file, displayName, moduleSource: source, ...(opts.filter ? { filter: opts.filter } : {}) } satisfies RunnerRequest);
      });
      await host.close();
      const r = host.report;
      if (r.loadError) opts.out(`  load error: ${indent(r.loadError, '    ').trimStart()}\n`);
      reports.push(r);
    }
  } finally {
    port1.close();
    await worker.terminate();
    await Promise.all([...pools.values()].map((p) => p.close()));
    await gateway.close();
    delete process.env[TEST_GATEWAY_ENV];
  }
  return reports;
}

function indent(text: string, pad: string): string {
  return text
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

function printResult(report: FileReport, out: (t: string) => void): void {
  const r = report.results[report.results.length - 1];
  if (!r || r.status === 'skipped') return;
  const ms = `${Math.round(r.durationMs)} ms`;
  if (r.status === 'passed') out(`  ✓ ${r.name} (${ms})\n`);
  else out(`  ✗ ${r.name} (${ms})\n${indent(r.message ?? '', '      ')}\n`);
  for (const n of r.notes) out(`      note: ${n}\n`);
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  loadErrors: number;
}

export function summarize(reports: FileReport[]): Summary {
  const s: Summary = { passed: 0, failed: 0, skipped: 0, loadErrors: 0 };
  for (const r of reports) {
    if (r.loadError) s.loadErrors++;
    for (const t of r.results) s[t.status]++;
  }
  return s;
}

export function exitCodeOf(s: Summary): number {
  if (s.loadErrors > 0) return 2;
  return s.failed > 0 ? 1 : 0;
}

export function summaryLine(s: Summary, ms: number): string {
  const parts = [`${s.passed} passed`, `${s.failed} failed`];
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  if (s.loadErrors) parts.push(`${s.loadErrors} file${s.loadErrors === 1 ? '' : 's'} not loaded`);
  return `${s.passed + s.failed} tests: ${parts.join(', ')} (${(ms / 1000).toFixed(2)} s)\n`;
}

// ---- JUnit XML (the de-facto schema Jenkins, GitLab and GitHub actions read) ----

function xml(text: string): string {
  return text
    // XML 1.0 allows no control characters but TAB, LF, CR.
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function junitXml(reports: FileReport[], totalMs: number): string {
  const s = summarize(reports);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(`<testsuites name="roost lua test" tests="${s.passed + s.failed + s.skipped + s.loadErrors}" failures="${s.failed}" errors="${s.loadErrors}" skipped="${s.skipped}" time="${(totalMs / 1000).toFixed(3)}">`);
  for (const r of reports) {
    const failures = r.results.filter((t) => t.status === 'failed' && !t.error).length;
    const errors = r.results.filter((t) => t.status === 'failed' && t.error).length + (r.loadError ? 1 : 0);
    const skipped = r.results.filter((t) => t.status === 'skipped').length;
    const time = r.results.reduce((a, t) => a + t.durationMs, 0) / 1000;
    const tests = r.results.length + (r.loadError ? 1 : 0);
    lines.push(`  <testsuite name="${xml(r.displayName)}" file="${xml(r.displayName)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">`);
    if (r.loadError) {
      lines.push(`    <testcase classname="${xml(r.displayName)}" name="(load)" time="0">`);
      lines.push(`      <error message="${xml(r.loadError.split('\n')[0]!)}">${xml(r.loadError)}</error>`, '    </testcase>');
    }
    for (const t of r.results) {
      const head = `    <testcase classname="${xml(r.displayName)}" name="${xml(t.name)}" time="${(t.durationMs / 1000).toFixed(3)}"`;
      if (t.status === 'passed' && t.notes.length === 0) {
        lines.push(`${head}/>`);
        continue;
      }
      lines.push(`${head}>`);
      if (t.status === 'skipped') lines.push('      <skipped/>');
      if (t.status === 'failed') {
        const tag = t.error ? 'error' : 'failure';
        lines.push(`      <${tag} message="${xml((t.message ?? '').split('\n')[0]!)}">${xml(t.message ?? '')}</${tag}>`);
      }
      if (t.notes.length) lines.push(`      <system-out>${xml(t.notes.join('\n'))}</system-out>`);
      lines.push('    </testcase>');
    }
    if (r.warnings.length) lines.push(`    <system-out>${xml(r.warnings.join('\n'))}</system-out>`);
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

export function writeJunit(file: string, reports: FileReport[], totalMs: number): void {
  writeFileSync(file, junitXml(reports, totalMs));
}
