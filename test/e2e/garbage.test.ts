// Hostile clients against the whole server over real sockets: seeded random and mutated IMAP
// command lines in each state, and garbage to LMTP. Every IMAP command gets its tagged OK/NO/BAD
// (or the connection ends with BYE, e.g. after imap_max_bad_commands), the server never crashes or
// hangs, another client's NOOP keeps answering, and a message stored beforehand is intact.
import net from 'node:net';
import { message, startRoost, type RawImapClient, type Roost } from './harness.js';

const USER = 'fuzz@example.com';
const OTHER = 'other@example.com';
const LINES_PER_STATE = 150;

/** xorshift32: the same garbage on every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const int = (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.floor((s / 4294967296) * n);
  };
  return { int, pick: <T>(a: readonly T[]): T => a[int(a.length)]! };
}
type Rng = ReturnType<typeof rng>;

// Command bodies (after the tag). The mailbox holding the precious message is named by none.
const SEEDS = [
  'LOGIN alice secret', 'AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==', 'CAPABILITY', 'NOOP', 'ID ("name" "x" "version" NIL)',
  'SELECT INBOX (CONDSTORE)', 'EXAMINE "Entw&APw-rfe"', 'CREATE Sent (USE (\\Sent))', 'LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES))',
  'LSUB "" %', 'STATUS INBOX (MESSAGES UIDNEXT HIGHESTMODSEQ)', 'ENABLE CONDSTORE UTF8=ACCEPT', 'NAMESPACE', 'SUBSCRIBE Drafts',
  'FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (From To)]<0.100> FLAGS)', 'UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5)', 'FETCH 1 (BODYSTRUCTURE ENVELOPE BINARY.PEEK[1]<0.5>)',
  'STORE 1 +FLAGS.SILENT (\\Seen $Label)', 'UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR (FROM x) NOT (TO "y z") SINCE 1-Jan-2020 1:*',
  'SEARCH HEADER X-Y abc LARGER 5 MODSEQ 7', 'UID COPY 1:2 Drafts', 'GETMETADATA (DEPTH infinity MAXSIZE 10) INBOX /private',
  'SETMETADATA INBOX (/private/comment "x")', 'CHECK', 'UNSELECT', 'IDLE', 'LOGOUT',
];
// Hostile arguments a random mutation rarely builds; literal markers only here, with known framing.
const SPECIALS = [
  'LOGIN {999999999999}', 'LOGIN {99999999999999999999}', 'LOGIN {-1}', 'APPEND INBOX {999999999999}', 'LOGIN {1+}\r\n',
  'LOGIN a\x00b c', 'LOGIN \xe4\xf6\xfc \xff', 'NOOP\rjunk', 'LOGIN ' + 'x'.repeat(70000) + ' y', 'FETCH 1 ' + '('.repeat(5000),
  'ID ' + '('.repeat(20000) + ')'.repeat(20000), 'SEARCH ' + 'NOT '.repeat(10000) + 'ALL', 'LIST "" "' + '*a'.repeat(2000) + 'b"',
  'FETCH 1:4294967296 FLAGS', 'FETCH 1 BODY[]<99999999999999999999.1>', 'SELECT "&' + 'A'.repeat(2000) + '-"',
];
const TOKENS = ['(', ')', '"', '\\', '[', ']', '<', '>', '*', '%', '\x00', '\xff', 'NIL', '4294967296', '0', '-1', '1:*', ',', 'BODY[', '&AAA', 'x'.repeat(500)];

function mutate(r: Rng, body: string): string {
  let s = body;
  for (let k = 1 + r.int(3); k > 0; k--) {
    const pos = r.int(s.length + 1);
    const op = r.int(5);
    if (op === 0 && s.length) s = s.slice(0, pos) + String.fromCharCode(s.charCodeAt(Math.min(pos, s.length - 1)) ^ (1 << r.int(8))) + s.slice(pos + 1);
    else if (op === 1) s = s.slice(0, pos);
    else if (op === 2) s = s.slice(0, pos) + r.pick(TOKENS) + s.slice(pos);
    else if (op === 3) s = s.slice(0, pos) + String.fromCharCode(...Array.from({ length: 1 + r.int(12) }, () => r.int(256))) + s.slice(pos);
    else s = s.slice(0, pos) + s.slice(pos + r.int(8));
  }
  // No line ends or literal markers: each line stays one command with a known tag.
  return s.replace(/[\r\n{]/g, ' ');
}

/** One command line: mostly mutated seeds, some pure noise, some hand-picked hostile arguments. */
function garbageLine(r: Rng): string {
  const roll = r.int(10);
  if (roll === 0) return r.pick(SPECIALS);
  if (roll === 1) return String.fromCharCode(...Array.from({ length: r.int(60) }, () => 1 + r.int(255))).replace(/[\r\n{]/g, ' ');
  return mutate(r, r.pick(SEEDS));
}

let roost: Roost;
const precious = Buffer.from(message('precious').replace('Hello.', 'Gr\xfc\xdfe, caf\xe9 (8-bit) and a NUL-free body.'), 'latin1');

beforeAll(async () => {
  roost = await startRoost({ users: [{ username: USER }, { username: OTHER }] });
  const c = await roost.raw({ username: USER });
  expect((await c.command('c1', 'CREATE Keep')).at(-1)).toMatch(/^c1 OK/);
  for (const [tag, box, body] of [['a1', 'Keep', precious], ['a2', 'INBOX', Buffer.from(message('one'))], ['a3', 'INBOX', Buffer.from(message('two'))]] as const) {
    c.socket.write(Buffer.concat([Buffer.from(`${tag} APPEND ${box} {${body.length}+}\r\n`), body, Buffer.from('\r\n')]));
    expect((await c.until((l) => l.startsWith(`${tag} `))).at(-1)).toMatch(new RegExp(`^${tag} OK`));
  }
  c.close();
});
afterAll(() => roost?.stop());

type State = 'not-authenticated' | 'authenticated' | 'selected';

async function connectIn(state: State): Promise<RawImapClient> {
  const c = await roost.raw(state === 'not-authenticated' ? undefined : { username: USER });
  if (state === 'selected') expect((await c.command('s1', 'SELECT INBOX')).at(-1)).toMatch(/^s1 OK/);
  return c;
}

/** Sends one line and reads to its tagged reply; 'bye' when the server ended the connection. */
async function exchange(c: RawImapClient, tag: string, body: string): Promise<string | 'bye'> {
  c.socket.write(Buffer.from(`${tag} ${body}\r\n`, 'latin1'));
  for (;;) {
    let line: string;
    try {
      line = await c.readLine(3000);
    } catch (e) {
      if (c.closed) return 'bye';
      throw new Error(`no reply to ${JSON.stringify(`${tag} ${body}`.slice(0, 200))}: ${String(e)}`);
    }
    if (line.startsWith(`${tag} `)) return line;
    if (line.startsWith('* BYE ')) {
      await c.waitClosed(2000);
      return 'bye';
    }
    if (line.startsWith('+')) c.send('DONE\r\n'); // IDLE, or a SASL challenge (answered with junk)
  }
}

/** The other session is still answered (how fast is bench/imap.ts's figure, not an assertion). */
async function noopAnswers(other: RawImapClient, tag: string): Promise<void> {
  expect((await other.command(tag, 'NOOP')).at(-1)).toMatch(new RegExp(`^${tag} OK`));
}

test('seeded garbage in every IMAP state gets tagged replies or BYE; others unaffected; stored mail intact', async () => {
  const r = rng(0x5eed);
  const other = await roost.raw({ username: OTHER });
  const stats = { replies: 0, byes: 0, tooMany: 0 };
  const internal: string[] = [];
  for (const state of ['not-authenticated', 'authenticated', 'selected'] as const) {
    let c = await connectIn(state);
    for (let i = 0; i < LINES_PER_STATE; i++) {
      const body = garbageLine(r);
      if (/^\s*(STARTTLS|COMPRESS)\b/i.test(body)) continue; // would change the framing, not garbage
      const tag = `g${i}`;
      const reply = await exchange(c, tag, body);
      // Mutated LOGINs are failed logins: the brute-force penalty (tested elsewhere) would only
      // slow this run down, so clear it as a successful login does.
      roost.ctx.auth.penalty.success('127.0.0.1');
      if (reply === 'bye') {
        stats.byes++;
        if (c.lines.some((l) => l === '* BYE Too many invalid IMAP commands.')) stats.tooMany++;
        c = await connectIn(state);
        continue;
      }
      expect(reply).toMatch(new RegExp(`^${tag} (OK|NO|BAD)( |$)`));
      if (/SERVERBUG|Internal error/i.test(reply)) internal.push(`${tag} ${body.slice(0, 120)} -> ${reply}`);
      stats.replies++;
    }
    c.close();
    await noopAnswers(other, `n-${state}`);
  }
  expect(internal).toEqual([]);
  expect(stats.replies).toBeGreaterThan(LINES_PER_STATE);
  expect(stats.tooMany).toBeGreaterThan(0);

  // The message stored before the garbage is byte-for-byte what was appended.
  const check = await roost.imapflow(USER);
  try {
    await check.mailboxOpen('Keep');
    const msg = await check.fetchOne('1', { source: true });
    expect(msg && msg.source && Buffer.compare(msg.source, precious)).toBe(0);
  } finally {
    await check.logout();
  }
  other.close();
});

/** Writes the chunks to a fresh LMTP connection, then collects replies until it closes or goes quiet. */
async function lmtpGarbage(chunks: (string | Buffer)[], quietMs = 150): Promise<{ lines: string[]; closed: boolean }> {
  const socket = net.connect(roost.lmtpPort, '127.0.0.1');
  let data = '';
  let closed = false;
  let last = Date.now();
  socket.on('data', (d: Buffer) => {
    data += d.toString('latin1');
    last = Date.now();
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
  for (const c of chunks) socket.write(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  const deadline = Date.now() + 3000;
  while (!closed && Date.now() < deadline && (Date.now() - last < quietMs || data === '')) await new Promise((res) => setTimeout(res, 20));
  socket.destroy();
  return { lines: data.split('\r\n').filter((l) => l !== ''), closed };
}

test('LMTP garbage gets SMTP replies or a closed connection; delivery still works', async () => {
  const r = rng(0x1317);
  const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => r.int(256)));
  const cases: (string | Buffer)[][] = [
    [noise(200), '\r\n'],
    ['LHLO x\nMAIL FROM:<a@b>\nDATA\n'],
    ['LHLO x\r\n', 'DATA\r\n', 'hello\r\n.\r\n', 'QUIT\r\n'],
    ['LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\nfoo\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n'],
    ['LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<\x00\xff@\r\nRCPT TO:<' + 'x'.repeat(5000) + '@example.com>\r\nQUIT\r\n'],
    ['LHLO ' + 'y'.repeat(1024 * 1024) + '\r\n'],
    ['MAIL FROM:<a@b> SIZE=99999999999999999999\r\n', 'BDAT 999999999999\r\n', '\r\r\r\n'],
    ...Array.from({ length: 20 }, () => [noise(1 + r.int(300)), r.int(2) ? '\r\n' : '\n']),
  ];
  for (const chunks of cases) {
    const { lines, closed } = await lmtpGarbage(chunks);
    expect(lines.length > 0 || closed).toBe(true);
    for (const l of lines) expect(l).toMatch(/^\d{3}[ -]/);
  }
  const ok = await roost.deliver([USER], message('after garbage'));
  expect(ok.data).toEqual([expect.stringMatching(/^250 /)]);
  const other = await roost.raw({ username: OTHER });
  await noopAnswers(other, 'n-lmtp');
  other.close();
});

test('a delivered message built to hurt the MIME parser is fetched normally (ENVELOPE, BODYSTRUCTURE)', async () => {
  const hostile = ['From: a;b', 'To: Bert <b@example.com>;;', 'Subject: nested', ...Array(3000).fill('Content-Type: message/rfc822\r\n'), 'x', ''].join('\r\n');
  expect((await roost.deliver([USER], hostile)).data).toEqual([expect.stringMatching(/^250 /)]);
  const c = await roost.raw({ username: USER });
  expect((await c.command('s', 'SELECT INBOX')).at(-1)).toMatch(/^s OK/);
  const r = await c.command('f', 'FETCH * (ENVELOPE BODYSTRUCTURE)');
  expect(r.at(-1)).toMatch(/^f OK/);
  expect(r.join('\n')).toContain('((NIL NIL "a" "MISSING_DOMAIN")(NIL NIL "b" "MISSING_DOMAIN"))');
  c.close();
});
