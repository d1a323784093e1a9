// Import benchmark: `roost import -u USER maildir:PATH` (the built command, a child process) on a
// generated 10,000-message Maildir (2-4 KB messages, a third flagged \Seen, a tenth with a
// keyword, UIDs in dovecot-uidlist), then the same import again (everything skipped), then
// `roost export`; then `roost export mbox:` of the same store and `roost import mbox:` of that
// tree into another user (and again). Prints messages/s of each. Run: npm run build && node dist/bench/import.js
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const COUNT = Number(process.env.IMPORT_BENCH_COUNT ?? 10_000);
const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-import-'));

function generateMaildir(root: string): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, sub), { recursive: true });
  const uidlist = [`3 V1700000000 N${COUNT + 1} G0123456789abcdef0123456789abcdef`];
  const start = Date.UTC(2023, 0, 1) / 1000;
  for (let i = 1; i <= COUNT; i++) {
    const base = `${start + i}.M${i}P1.bench`;
    const flags = (i % 3 === 0 ? 'S' : '') + (i % 10 === 0 ? 'a' : '');
    const body = `Line ${i} of a generated message body.\n`.repeat(40 + (i % 50));
    const text = `From: sender${i % 97}@example.net\nTo: user@example.com\nSubject: message ${i}\nMessage-ID: <${i}@bench>\n\n${body}`;
    const file = join(root, 'cur', `${base},S=${Buffer.byteLength(text)}:2,${flags}`);
    writeFileSync(file, text);
    utimesSync(file, start + i, start + i);
    uidlist.push(`${i} :${base}`);
  }
  writeFileSync(join(root, 'dovecot-uidlist'), uidlist.join('\n') + '\n');
  writeFileSync(join(root, 'dovecot-keywords'), '0 $Important\n');
}

function timed(label: string, args: string[]): void {
  const t0 = performance.now();
  const out = execFileSync(process.execPath, [main, '-c', join(dir, 'roost.conf'), ...args], { cwd: dir, encoding: 'utf8' });
  const secs = (performance.now() - t0) / 1000;
  console.log(`${label}: ${Math.round(COUNT / secs)} messages/s (${COUNT} in ${secs.toFixed(2)} s, process start included) — ${out.trim()}`);
}

try {
  generateMaildir(join(dir, 'Maildir'));
  writeFileSync(join(dir, 'roost.conf'), `data_dir = ${dir}/data\nssl = no\n`);
  execFileSync(process.execPath, [main, '-c', join(dir, 'roost.conf'), 'user', 'add', 'bench', '-p', 'pw'], { cwd: dir });
  timed('import maildir (durable commits, 500 per transaction)', ['import', '-u', 'bench', `maildir:${join(dir, 'Maildir')}`]);
  timed('import again (all skipped)', ['import', '-u', 'bench', `maildir:${join(dir, 'Maildir')}`]);
  timed('export maildir', ['export', '-u', 'bench', `maildir:${join(dir, 'export')}`]);
  execFileSync(process.execPath, [main, '-c', join(dir, 'roost.conf'), 'user', 'add', 'bench2', '-p', 'pw'], { cwd: dir });
  timed('export mbox (tree)', ['export', '-u', 'bench', `mbox:${join(dir, 'mbox')}`]);
  timed('import mbox tree', ['import', '-u', 'bench2', `mbox:${join(dir, 'mbox')}`]);
  timed('import mbox tree again (all skipped)', ['import', '-u', 'bench2', `mbox:${join(dir, 'mbox')}`]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
