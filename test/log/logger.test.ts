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
