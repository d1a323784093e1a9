// Python's imaplib as a second, independent IMAP client: login, list, append, select, search,
// fetch, store, copy, expunge, logout — the calls a typical mail script makes.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startRoost, type Roost } from './harness.js';

const hasPython = spawnSync('python3', ['--version']).status === 0;
let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(() => roost?.stop());

const SCRIPT = String.raw`
import imaplib, sys, email
port = int(sys.argv[1])
M = imaplib.IMAP4('127.0.0.1', port)
print('caps', ' '.join(sorted(c for c in M.capabilities if c in ('IMAP4REV1', 'IDLE', 'UIDPLUS', 'MOVE'))))
print('login', M.login('alice', 'pw')[0])
print('create', M.create('Projects')[0])
msg = b'From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= plans\r\n\r\nLunch at noon?\r\n'
typ, data = M.append('INBOX', '(\\Flagged)', imaplib.Time2Internaldate(1700000000), msg)
print('append', typ, data[0].decode().split(']')[0] + ']')
print('select', M.select('INBOX'))
print('search', M.search('UTF-8', 'SUBJECT', '"Café"'.encode()))
typ, data = M.fetch('1', '(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print('fetch', data[0][0].decode(), repr(data[0][1]))
print('store', M.store('1', '+FLAGS', '\\Seen'))
print('copy', M.copy('1', 'Projects')[0])
print('status', M.status('Projects', '(MESSAGES UNSEEN)'))
M.store('1', '+FLAGS', '\\Deleted')
print('expunge', M.expunge())
M.close()
print('logout', M.logout()[0])
`;

(hasPython ? test : test.skip)('python3 imaplib session', async () => {
  // Asynchronously: the server runs in this process and must keep answering.
  const r = await promisify(execFile)('python3', ['-c', SCRIPT, String(roost.imapPort)], { encoding: 'utf8', timeout: 20000 });
  expect(r.stderr).toBe('');
  const out = r.stdout.split('\n');
  expect(out).toEqual([
    'caps IDLE IMAP4REV1',
    'login OK',
    'create OK',
    expect.stringMatching(/^append OK \[APPENDUID \d+ 1\]$/),
    "select ('OK', [b'1'])",
    "search ('OK', [b'1'])",
    expect.stringMatching(/^fetch 1 \(FLAGS \(\\Flagged \\Recent\) RFC822\.SIZE 108 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\} b'Subject: =\?UTF-8\?Q\?Caf=C3=A9\?= plans\\r\\n\\r\\n'$/),
    "store ('OK', [b'1 (FLAGS (\\\\Flagged \\\\Seen \\\\Recent))'])",
    'copy OK',
    `status ('OK', [b'Projects (MESSAGES 1 UNSEEN 0)'])`,
    "expunge ('OK', [b'1'])",
    'logout BYE',
    '',
  ]);
});
