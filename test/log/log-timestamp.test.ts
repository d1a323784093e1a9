// log_timestamp and multi-line messages as Dovecot 2.3.19 writes them (checked on the real one,
// `dovecot -F` with log_path = /dev/stderr and with a log file): every line starts with the
// strftime format (default "%b %d %H:%M:%S ", empty: none), to stderr and to files alike; a
// multi-line message's later lines come as `<process>: Error: <line>`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLogLine, Logger, logHub } from '../../src/log/logger.js';
import { strftime } from '../../src/log/timestamp.js';
import { compileSrc, type CompiledSrc } from '../lmtp/compile-src.js';
import { waitUntil } from '../poll.js';

const AT = new Date(2026, 0, 5, 7, 8, 9);
const record = (message: string) => ({ time: AT, level: 'Info' as const, prefix: 'imap(alice)<42><abcdefghijklmnop>: ', message });

test('the default format, another one, and none', () => {
  expect(formatLogLine(record('hi'), '%b %d %H:%M:%S ')).toBe('Jan 05 07:08:09 imap(alice)<42><abcdefghijklmnop>: Info: hi');
  expect(formatLogLine(record('hi'), '%Y-%m-%d %H:%M:%S ')).toBe('2026-01-05 07:08:09 imap(alice)<42><abcdefghijklmnop>: Info: hi');
  expect(formatLogLine(record('hi'), '')).toBe('imap(alice)<42><abcdefghijklmnop>: Info: hi');
  expect(strftime('%e|%j|%T|%F|%%|%Q', AT)).toBe(' 5|005|07:08:09|2026-01-05|%|%Q');
});

test('a multi-line message: the later lines get the process name and Error, as Dovecot writes them', () => {
  expect(formatLogLine(record('line1\nline2\nline3'), '')).toBe(
    ['imap(alice)<42><abcdefghijklmnop>: Info: line1', 'imap: Error: line2', 'imap: Error: line3'].join('\n'),
  );
  expect(formatLogLine({ ...record('a\nb'), prefix: 'lmtp(1234): ', level: 'Error' }, '%H ')).toBe('07 lmtp(1234): Error: a\n07 lmtp: Error: b');
});

test('setLogPaths writes log_timestamp into a log file; empty means none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'roost-logts-'));
  try {
    logHub.setDefaultOutput(true);
    logHub.setLogPaths({ log_path: join(dir, 'a.log'), log_timestamp: '[%Y] ' });
    new Logger('roost: ').error('x\ny');
    logHub.setLogPaths({ log_path: join(dir, 'b.log'), log_timestamp: '' });
    new Logger('roost: ').error('z');
    expect(readFileSync(join(dir, 'a.log'), 'utf8')).toMatch(/^\[\d{4}\] roost: Error: x\n\[\d{4}\] roost: Error: y\n$/);
    expect(readFileSync(join(dir, 'b.log'), 'utf8')).toBe('roost: Error: z\n');
  } finally {
    logHub.setLogPaths({ log_path: '/dev/stderr' });
    logHub.setDefaultOutput(false);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('roost serve', () => {
  let compiled: CompiledSrc;
  let dir: string;
  beforeAll(() => {
    compiled = compileSrc();
    dir = mkdtempSync(join(tmpdir(), 'roost-logts-serve-'));
  });
  afterAll(() => {
    compiled.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  let runs = 0;
  /** Starts `roost serve` on a fresh data_dir until it serves (its last startup line), stops it; returns its stderr. */
  async function serve(extra: string): Promise<string> {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const conf = join(dir, 'roost.conf');
    writeFileSync(conf, [
      'protocols = imap', 'listen = 127.0.0.1', `data_dir = ${dir}/data${++runs}`, 'ssl = no',
      'service imap-login {', '  inet_listener imap {', `    port = ${port}`, '  }', '}',
      'passdb {', '  driver = roost', '}', 'userdb {', '  driver = roost', '}', extra, '',
    ].join('\n'));
    const child = spawn(process.execPath, [join(compiled.srcRoot, 'cli/main.js'), '-c', conf, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitUntil('roost serve to start', () => /no users yet/.test(out) || child.exitCode !== null);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    return err;
  }

  test('stderr lines start with Dovecot\'s default timestamp; log_timestamp changes or removes it', async () => {
    const migration = 'storage: Info: server database .*roost\\.db: applied migration 0001_init$';
    const byDefault = await serve('');
    expect(byDefault).toMatch(new RegExp(`^[A-Z][a-z]{2} \\d\\d \\d\\d:\\d\\d:\\d\\d ${migration}`, 'm'));
    const custom = await serve('log_timestamp = "%Y-%m-%dT%H:%M:%S "');
    expect(custom).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d ${migration}`, 'm'));
    const none = await serve('log_timestamp =');
    expect(none).toMatch(new RegExp(`^${migration}`, 'm'));
    expect(existsSync(join(dir, 'data3'))).toBe(true);
  });
});
