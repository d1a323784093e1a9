// `roost who`'s table layout against `doveadm who` output recorded from Dovecot 2.3.19.1 (Debian)
// on loopback with a private config (base_dir in /tmp, lmtp_user_concurrency_limit = 10 so that
// its lmtp registers recipients with anvil): two IMAP logins of alice (python3 imaplib) and an LMTP
// transaction for bob held between RCPT TO and DATA, `doveadm -c CONF who` and `who -1` with
// stdout a pipe (80 columns). doveadm-print-table.c gives the spare width to the EXPAND column.
import { formatTable } from '../../src/cli/commands/admin.js';

const who = [{ title: 'username' }, { title: '#', right: true }, { title: 'proto' }, { title: '(pids)' }, { title: '(ips)' }];
const whoOne = [{ title: 'username', expand: true }, { title: 'proto' }, { title: 'pid' }, { title: 'ip' }];

test('who: one line per user and service, the spare width on the last column', () => {
  expect(formatTable(who, [['alice', '2', 'imap', '(32307 32309)', '(127.0.0.1)']])).toBe(
    'username # proto (pids)        (ips)                         \n' +
      'alice    2 imap  (32307 32309) (127.0.0.1)                   \n',
  );
  expect(formatTable(who, [['alice', '2', 'imap', '(620 627)', '(127.0.0.1)'], ['bob', '1', 'lmtp', '(629)', '()']])).toBe(
    'username # proto (pids)    (ips)                           \n' +
      'alice    2 imap  (620 627) (127.0.0.1)                     \n' +
      'bob      1 lmtp  (629)     ()                              \n',
  );
  // Nobody connected: the titles alone.
  expect(formatTable(who, [])).toBe('username # proto (pids) (ips)                         \n');
});

test('who -1: one line per session, the spare width on the username column; LMTP has no IP', () => {
  expect(formatTable(whoOne, [['alice', 'imap', '32307', '127.0.0.1'], ['alice', 'imap', '32309', '127.0.0.1']])).toBe(
    'username                          proto pid   ip       \n' +
      'alice                             imap  32307 127.0.0.1\n' +
      'alice                             imap  32309 127.0.0.1\n',
  );
  expect(formatTable(whoOne, [['alice', 'imap', '620', '127.0.0.1'], ['alice', 'imap', '627', '127.0.0.1'], ['bob', 'lmtp', '629', '']])).toBe(
    'username                           proto pid ip       \n' +
      'alice                              imap  620 127.0.0.1\n' +
      'alice                              imap  627 127.0.0.1\n' +
      'bob                                lmtp  629          \n',
  );
});

test('a table wider than the terminal: columns narrowed from the right, cells never cut', () => {
  const long = 'x'.repeat(50);
  const text = formatTable(whoOne, [[long, 'imap', '1', '192.0.2.1'], ['a', 'imap', '1', '192.0.2.1']], 40);
  expect(text.split('\n')[1]).toContain(long);
});
