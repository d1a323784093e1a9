// BINARY (RFC 3516) over real sockets: FETCH BINARY / BINARY.PEEK / BINARY.SIZE for each
// Content-Transfer-Encoding, NO [UNKNOWN-CTE], APPEND with a literal8; raw lines pinned to what
// Dovecot 2.3.19 answers for the same message, and imapflow fetching parts with `binary: true`.
import { ImapFlow } from 'imapflow';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

const MESSAGE =
  'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n' +
  '--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nsoft\r\n' +
  '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n#86)C\r\n`\r\nend\r\n' +
  '--b\r\nContent-Type: text/plain\r\n\r\nplain 7bit\r\n--b--\r\n';

test('FETCH BINARY for base64, quoted-printable, 7bit and an unknown encoding; literal8 where Dovecot uses it', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ BINARY /);
  await c.command('c', 'CREATE bin');
  c.send(`a APPEND bin {${Buffer.byteLength(MESSAGE)}+}\r\n${MESSAGE}\r\n`);
  await c.until((l) => l.startsWith('a '));
  await c.command('s', 'SELECT bin');
  expect(await c.command('f1', 'FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])')).toEqual(['* 1 FETCH (BINARY.SIZE[1] 11 BINARY[1] ~{11}', 'hello world)', 'f1 OK Fetch completed.']);
  expect(await c.command('f2', 'FETCH 1 BINARY.PEEK[2]')).toEqual(['* 1 FETCH (BINARY[2] ~{10}', 'caf\xc3\xa9 soft)', 'f2 OK Fetch completed.']);
  expect(await c.command('f3', 'FETCH 1 (BINARY.PEEK[4] BINARY.PEEK[1]<2.3>)')).toEqual(['* 1 FETCH (BINARY[4] {10}', 'plain 7bit BINARY[1]<2> ~{3}', 'llo)', 'f3 OK Fetch completed.']);
  expect(await c.command('f4', 'FETCH 1 BINARY.PEEK[5]')).toEqual(['* 1 FETCH (BINARY[5] {0}', ')', 'f4 OK Fetch completed.']);
  // x-uuencode cannot be undone: the part, and the whole message, are refused.
  expect(await c.command('u1', 'FETCH 1 BINARY.PEEK[3]')).toEqual(['u1 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.']);
  expect(await c.command('u2', 'FETCH 1 BINARY.SIZE[3]')).toEqual(['u2 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.']);
  expect(await c.command('u3', 'FETCH 1 BINARY.PEEK[]')).toEqual(['u3 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.']);
  // The connection and the message are fine afterwards; BINARY (not PEEK) sets \Seen.
  expect(await c.command('f5', 'FETCH 1 BINARY[1]')).toEqual(['* 1 FETCH (FLAGS (\\Seen \\Recent) BINARY[1] ~{11}', 'hello world)', 'f5 OK Fetch completed.']);
  c.close();
});

test('APPEND with a literal8 keeps NUL bytes; BINARY gives them back', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE bin8');
  const bin = Buffer.concat([Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), Buffer.from([0, 1, 2, 255, 13, 10])]);
  c.send(`b APPEND bin8 ~{${bin.length}}\r\n`);
  expect(await c.readLine()).toBe('+ OK');
  c.socket.write(Buffer.concat([bin, Buffer.from('\r\n')]));
  expect((await c.until((l) => l.startsWith('b '))).pop()).toMatch(/^b OK \[APPENDUID \d+ 1\]/);
  await c.command('s', 'SELECT bin8');
  expect(await c.command('f', 'FETCH 1 BINARY.PEEK[1]')).toEqual(['* 1 FETCH (BINARY[1] ~{6}', '\x00\x01\x02\xff', ')', 'f OK Fetch completed.']);
  c.close();
});

test('imapflow downloads decoded parts through BINARY', async () => {
  const c = new ImapFlow({ host: '127.0.0.1', port: t.port, secure: false, auth: { user: 'bob', pass: 'pw' }, logger: false, tls: { rejectUnauthorized: false } });
  await c.connect();
  await c.append('INBOX', Buffer.from(MESSAGE));
  const lock = await c.getMailboxLock('INBOX');
  const msg = await c.fetchOne('1', { bodyParts: ['1', '2'] }, { binary: true });
  lock.release();
  const parts = (msg as { bodyParts: Map<string, Buffer> }).bodyParts;
  expect(parts.get('1')!.toString()).toBe('hello world');
  expect(parts.get('2')!.toString('utf8')).toBe('café soft');
  await c.logout();
});
