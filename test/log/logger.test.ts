import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, captureLogs, logHub } from '../../src/log/logger.js';

describe('logger', () => {
  test('formats Dovecot-style lines with the session prefix', () => {
    logHub.setDefaultOutput(false);
    const cap = captureLogs();
    new Logger('imap(alice)<42><abc>: ').info('Logged out');
    new Logger('lmtp(bob): ').debug('hidden unless mail_debug');
    cap.stop();
    expect(cap.lines).toEqual(['imap(alice)<42><abc>: Info: Logged out']);
  });
});

describe('log paths', () => {
  test('errors go to log_path, info to info_log_path, debug to debug_log_path, with timestamps', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'roost-log-'));
    try {
      logHub.setDefaultOutput(true);
      logHub.debug = true;
      logHub.setLogPaths({ log_path: `${dir}/errors.log`, info_log_path: `${dir}/info.log`, debug_log_path: `${dir}/debug.log` });
      const l = new Logger('imap(alice): ');
      l.error('boom');
      l.info('hello');
      l.debug('details');
      expect(readFileSync(`${dir}/errors.log`, 'utf8')).toMatch(/^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d imap\(alice\): Error: boom\n$/);
      expect(readFileSync(`${dir}/info.log`, 'utf8')).toMatch(/imap\(alice\): Info: hello\n$/);
      expect(readFileSync(`${dir}/debug.log`, 'utf8')).toMatch(/imap\(alice\): Debug: details\n$/);
    } finally {
      logHub.setLogPaths({ log_path: '/dev/stderr' });
      logHub.setDefaultOutput(false);
      logHub.debug = false;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('log files stay open', () => {
  /** Runs `fn` with a fresh directory and the default sink on; puts stderr logging back after. */
  async function inLogDir(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'roost-logfile-'));
    try {
      logHub.setDefaultOutput(true);
      await fn(dir);
    } finally {
      logHub.setLogPaths({ log_path: '/dev/stderr' });
      logHub.setDefaultOutput(false);
      logHub.debug = false;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  /** The descriptors of this process open on `path` (Linux /proc). */
  function openOn(path: string): number {
    let n = 0;
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
      } catch {
        // closed while listing
      }
    }
    return n;
  }

  test('a renamed file keeps the lines until reopenLogFiles(), then the path gets a new file (logrotate)', () =>
    inLogDir(async (dir) => {
      logHub.setLogPaths({ log_path: `${dir}/roost.log`, log_timestamp: '' });
      const l = new Logger('lmtp(bob): ');
      l.info('one');
      expect(openOn(`${dir}/roost.log`)).toBe(1);
      renameSync(`${dir}/roost.log`, `${dir}/roost.log.1`);
      l.info('two');
      logHub.reopenLogFiles();
      l.info('three');
      expect(readFileSync(`${dir}/roost.log.1`, 'utf8')).toBe('lmtp(bob): Info: one\nlmtp(bob): Info: two\n');
      expect(readFileSync(`${dir}/roost.log`, 'utf8')).toBe('lmtp(bob): Info: three\n');
      // Setting the paths again (a reload) opens them again too.
      renameSync(`${dir}/roost.log`, `${dir}/roost.log.2`);
      logHub.setLogPaths({ log_path: `${dir}/roost.log`, log_timestamp: '' });
      l.error('four');
      expect(readFileSync(`${dir}/roost.log.2`, 'utf8')).toBe('lmtp(bob): Info: three\n');
      expect(readFileSync(`${dir}/roost.log`, 'utf8')).toBe('lmtp(bob): Error: four\n');
    }));

  test('one descriptor per file, shared by the levels that name it; closed when no path names it', () =>
    inLogDir(async (dir) => {
      logHub.debug = true;
      logHub.setLogPaths({ log_path: `${dir}/all.log`, info_log_path: `${dir}/all.log`, debug_log_path: `${dir}/debug.log`, log_timestamp: '' });
      const l = new Logger('imap(alice): ');
      l.error('e');
      l.info('i');
      l.debug('d');
      expect(readFileSync(`${dir}/all.log`, 'utf8')).toBe('imap(alice): Error: e\nimap(alice): Info: i\n');
      expect(openOn(`${dir}/all.log`)).toBe(1);
      expect(openOn(`${dir}/debug.log`)).toBe(1);
      logHub.setLogPaths({ log_path: `${dir}/all.log`, log_timestamp: '' });
      expect(openOn(`${dir}/debug.log`)).toBe(0);
      l.debug('d2');
      expect(readFileSync(`${dir}/all.log`, 'utf8')).toBe('imap(alice): Error: e\nimap(alice): Info: i\nimap(alice): Debug: d2\n');
      logHub.setLogPaths({ log_path: '/dev/stderr' });
      expect(openOn(`${dir}/all.log`)).toBe(0);
    }));

  test('a line is appended after what another process wrote meanwhile (O_APPEND)', () =>
    inLogDir(async (dir) => {
      logHub.setLogPaths({ log_path: `${dir}/roost.log`, log_timestamp: '' });
      const l = new Logger('lmtp(bob): ');
      l.info('server');
      appendFileSync(`${dir}/roost.log`, 'lda(bob): Info: deliver\n');
      l.info('server again');
      expect(readFileSync(`${dir}/roost.log`, 'utf8')).toBe('lmtp(bob): Info: server\nlda(bob): Info: deliver\nlmtp(bob): Info: server again\n');
    }));
});
