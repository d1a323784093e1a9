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
