// COMPRESS=DEFLATE (RFC 4978) over real sockets: a raw client with node:zlib (replies pinned to
// Dovecot 2.3.19's imap_zlib), python3 imaplib over zlib, and imapflow (which compresses whenever
// the server offers it).
import { execFile, spawnSync } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { RawClient, startTestServer, TIMING, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

/** A raw IMAP client that switches to raw deflate in both directions on demand. */
class DeflateClient {
  private text = '';
  private inflate: zlib.InflateRaw | null = null;
  private deflate: zlib.DeflateRaw | null = null;
  private waiters: Array<() => void> = [];
  closed = false;
  constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => (this.inflate ? this.inflate.write(d) : this.take(d)));
    socket.on('close', () => {
      // Bytes still inside the inflate stream arrive after the socket closed: wait for them.
      const done = () => {
        this.closed = true;
        this.wake();
      };
      if (this.inflate) {
        this.inflate.once('end', done);
        // A stream cut off without its final block ends in an error: closed all the same.
        this.inflate.once('error', done);
        this.inflate.end();
      } else done();
    });
  }
  private take(d: Buffer): void {
    this.text += d.toString('latin1');
    this.wake();
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  startCompression(): void {
    this.inflate = zlib.createInflateRaw();
    this.inflate.on('data', (d: Buffer) => this.take(d));
    this.deflate = zlib.createDeflateRaw();
    this.deflate.on('data', (d: Buffer) => this.socket.write(d));
  }
  send(data: string | Buffer): void {
    if (!this.deflate) {
      this.socket.write(data);
      return;
    }
    this.deflate.write(data);
    this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  }
  /** Everything up to and including the line starting with `tag `. */
  async until(tag: string): Promise<string[]> {
    for (;;) {
      const m = new RegExp(`(^|\\r\\n)${tag} [^\\r]*\\r\\n`).exec(this.text);
      if (m) {
        const end = m.index + m[0].length;
        const lines = this.text.slice(0, end).split('\r\n').slice(0, -1);
        this.text = this.text.slice(end);
        return lines.map((l) => l.replace(TIMING, '.'));
      }
      if (this.closed) throw new Error(`closed; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
  async command(tag: string, command: string): Promise<string[]> {
    this.send(`${tag} ${command}\r\n`);
    return this.until(tag);
  }
}

async function connect(): Promise<DeflateClient> {
  const socket = net.connect({ port: t.port, host: '127.0.0.1' });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const c = new DeflateClient(socket);
  await c.until('\\*');
  return c;
}

test('COMPRESS DEFLATE: errors, the switch after the tagged OK, large responses and literals compressed', async () => {
  const c = await connect();
  await c.command('l', 'LOGIN alice pw');
  expect((await c.command('c', 'CAPABILITY'))[0]).toContain(' COMPRESS=DEFLATE');
  expect(await c.command('b', 'COMPRESS')).toEqual(['b BAD Error in IMAP command COMPRESS: Invalid arguments.']);
  expect(await c.command('f', 'COMPRESS FOO')).toEqual(['f NO Unknown compression mechanism.']);
  expect(await c.command('d', 'COMPRESS deflate')).toEqual(['d OK Begin compression.']);
  c.startCompression();
  expect(await c.command('n', 'NOOP')).toEqual(['n OK NOOP completed.']);
  expect(await c.command('d2', 'COMPRESS DEFLATE')).toEqual(['d2 NO [COMPRESSIONACTIVE] COMPRESSION=DEFLATE already enabled.']);
  // A literal in, a large body out: both through the deflate streams.
  const body = `Subject: big\r\n\r\n${'All work and no play makes a long line. '.repeat(5000)}\r\n`;
  c.send(`a APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
  expect((await c.until('a')).pop()).toMatch(/^a OK \[APPENDUID \d+ 1\] Append completed\.$/);
  await c.command('s', 'SELECT INBOX');
  const fetched = await c.command('x', 'FETCH 1 BODY.PEEK[]');
  expect(fetched[0]).toBe(`* 1 FETCH (BODY[] {${body.length}}`);
  expect(fetched.join('\r\n')).toContain(body.trimEnd());
  expect(await c.command('o', 'LOGOUT')).toEqual(['* BYE Logging out', 'o OK Logout completed.']);
});

test('COMPRESS is refused before login; a client sending data that does not inflate loses only its connection', async () => {
  const raw = await RawClient.connect(t.port);
  expect(await raw.command('p', 'COMPRESS DEFLATE')).toEqual(['p BAD Error in IMAP command received by server.']);
  await raw.command('l', 'LOGIN alice pw');
  expect(await raw.command('d', 'COMPRESS DEFLATE')).toEqual(['d OK Begin compression.']);
  raw.send('x NOOP\r\n'); // not deflate
  await raw.waitClosed();
  const other = await RawClient.connect(t.port);
  expect((await other.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK/);
  other.close();
});

const hasPython = spawnSync('python3', ['--version']).status === 0;
const PYTHON = String.raw`
import imaplib, sys, zlib
class Deflating(imaplib.IMAP4):
    def start_compression(self):
        self._d = zlib.compressobj(-1, zlib.DEFLATED, -15)
        self._i = zlib.decompressobj(-15)
        self._pending = b''
        self.compressing = True
    def send(self, data):
        if getattr(self, 'compressing', False):
            data = self._d.compress(data) + self._d.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)
    def _fill(self):
        while not self._pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self._pending += self._i.decompress(chunk)
    def read(self, size):
        if not getattr(self, 'compressing', False):
            return imaplib.IMAP4.read(self, size)
        out = b''
        while len(out) < size:
            self._fill()
            take = self._pending[:size - len(out)]
            self._pending = self._pending[len(take):]
            out += take
        return out
    def readline(self):
        if not getattr(self, 'compressing', False):
            return imaplib.IMAP4.readline(self)
        out = b''
        while not out.endswith(b'\n'):
            self._fill()
            i = self._pending.find(b'\n')
            n = len(self._pending) if i < 0 else i + 1
            out += self._pending[:n]
            self._pending = self._pending[n:]
        return out
M = Deflating('127.0.0.1', int(sys.argv[1]))
M.login('alice', 'pw')
imaplib.Commands['COMPRESS'] = ('AUTH', 'SELECTED')
typ, data = M._simple_command('COMPRESS', 'DEFLATE')
print('compress', typ)
M.start_compression()
msg = b'Subject: py\r\n\r\n' + b'line of text\r\n' * 2000
print('append', M.append('INBOX', None, None, msg)[0])
print('select', M.select('INBOX')[0])
typ, data = M.uid('FETCH', '1:*', '(BODY.PEEK[])')
print('fetch', typ, sum(len(d[1]) for d in data if isinstance(d, tuple)))
print('logout', M.logout()[0])
`;

(hasPython ? test : test.skip)('python3 imaplib over deflate: append, select, fetch, logout', async () => {
  const r = await promisify(execFile)('python3', ['-c', PYTHON, String(t.port)], { encoding: 'utf8', timeout: 20000 });
  expect(r.stderr).toBe('');
  // Message 1 is the earlier test's; this one is 28,015 bytes.
  expect(r.stdout.split('\n').slice(0, 4)).toEqual(['compress OK', 'append OK', 'select OK', expect.stringMatching(/^fetch OK \d+$/)]);
  expect(Number(/fetch OK (\d+)/.exec(r.stdout)![1])).toBeGreaterThan(28000);
  expect(r.stdout).toContain('logout BYE');
});

test('imapflow negotiates COMPRESS by itself and works through it', async () => {
  const c = new ImapFlow({ host: '127.0.0.1', port: t.port, secure: false, auth: { user: 'bob', pass: 'pw' }, logger: false, tls: { rejectUnauthorized: false } });
  await c.connect();
  // imapflow's COMPRESS step ran: it now writes through its own deflate stream.
  expect((c as unknown as { _deflate?: unknown })._deflate).toBeTruthy();
  await c.append('INBOX', Buffer.from(`Subject: flow\r\n\r\n${'x'.repeat(100000)}\r\n`));
  const lock = await c.getMailboxLock('INBOX');
  const msg = await c.fetchOne('*', { source: true });
  lock.release();
  expect(msg && msg.source ? msg.source.length : 0).toBe(100000 + 19);
  await c.logout();
});
