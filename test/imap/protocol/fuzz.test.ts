// Hostile input against the wire format: seeded mutations of valid commands go through the
// CommandReader and parseCommand, and hostile messages through parseMessage and the
// BODYSTRUCTURE / ENVELOPE writers. Every outcome must be a value (a command or a BAD/NO error),
// never a thrown exception, and each input must finish quickly. Deterministic (fixed seed).
import { CommandReader, compileMailboxPattern, memorySinkFactory, parseCommand } from '../../../src/imap/protocol/index.js';
import { formatBodyStructure } from '../../../src/imap/protocol/bodystructure.js';
import { formatEnvelope } from '../../../src/imap/protocol/envelope.js';
import { parseMessage } from '../../../src/mime/parser.js';
import { parseRaw } from './helpers.js';

/** xorshift32: the same sequence on every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: <T>(a: readonly T[]): T => a[int(a.length)]! };
}

const SEEDS = [
  'a LOGIN {5}\r\nalice {6}\r\nsecret\r\n',
  'a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n',
  'a SELECT "Entw&APw-rfe" (CONDSTORE)\r\n',
  'a CREATE Sent (USE (\\Sent))\r\n',
  'a LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES))\r\n',
  'a STATUS INBOX (MESSAGES UIDNEXT HIGHESTMODSEQ)\r\n',
  'a APPEND Drafts (\\Seen $Label) "05-Nov-2026 10:00:00 +0100" {5+}\r\nhello\r\n',
  'a APPEND INBOX ~{3}\r\nabc\r\n',
  'a FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (From To)]<0.100> FLAGS)\r\n',
  'a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n',
  'a FETCH 1 BINARY[1]<0.5>\r\n',
  'a STORE 1,3:5 +FLAGS.SILENT (\\Seen \\Deleted)\r\n',
  'a UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR (FROM x) NOT (TO "y z") SINCE 1-Jan-2020 1:*\r\n',
  'a SEARCH HEADER X-Y {3}\r\nabc LARGER 5 MODSEQ 7\r\n',
  'a SELECT INBOX (QRESYNC (1 2 1:5 (1:2 3:4)))\r\n',
  'a SETMETADATA INBOX (/private/comment "x")\r\n',
  'a GETMETADATA (DEPTH infinity MAXSIZE 10) INBOX /private\r\n',
  'a ID ("name" "x" "version" NIL)\r\n',
  'a ENABLE CONDSTORE UTF8=ACCEPT\r\n',
  'a UID MOVE 1:2 Trash\r\n',
  'a UID EXPUNGE 1:4\r\n',
];
const TOKENS = [
  '{999999999999}', '{-1}', '{1+}', '{0}', '~{5+}', '{99999999999999999999}', '(', ')', '"', '\\', '[', ']', '<', '>', '*', '%',
  '\x00', '\xff', '\r', '\n', 'NIL', '4294967295', '4294967296', '99999999999999999999', '0', '-1', '1:*', '*:*', '0:0', ',', ':',
  'BODY[', 'BODY[]<', 'BODY[1.]', '(CHANGEDSINCE', '&', '&AAA', 'x'.repeat(3000), '('.repeat(500), 'NOT '.repeat(300),
];

function mutate(r: ReturnType<typeof rng>, input: string): Buffer {
  let b = Buffer.from(input, 'latin1');
  for (let k = 1 + r.int(4); k > 0; k--) {
    const pos = r.int(b.length + 1);
    switch (r.int(7)) {
      case 0:
        if (b.length) b[Math.min(pos, b.length - 1)]! ^= 1 << r.int(8);
        break;
      case 1:
        b = b.subarray(0, pos);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(r.pick(TOKENS), 'latin1'), b.subarray(pos)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + r.int(10))]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(Array.from({ length: 1 + r.int(16) }, () => r.int(256))), b.subarray(pos)]);
        break;
      case 5:
        b = Buffer.from(b.toString('latin1').replace(/\d+/, () => r.pick(['0', '4294967296', '999999999999999999999'])), 'latin1');
        break;
      default:
        b = Buffer.concat([b, Buffer.from(r.pick(SEEDS), 'latin1')]);
    }
  }
  return b;
}

/** Feeds `bytes` in random chunks; returns how many events came back. Throws if anything throws. */
function feed(r: ReturnType<typeof rng>, bytes: Buffer): number {
  const reader = new CommandReader({ sendContinuation: () => undefined, sinkFactory: memorySinkFactory(), maxLineLength: r.int(4) === 0 ? 300 : undefined });
  let events = 0;
  for (let p = 0; p < bytes.length; ) {
    const n = 1 + r.int(bytes.length);
    reader.push(bytes.subarray(p, p + n));
    p += n;
    for (let ev = reader.next(); ev; ev = reader.next()) {
      events++;
      if (ev.kind === 'command') {
        const res = parseCommand(ev.tag, ev.name, ev.args, { utf8Accept: r.int(2) === 0 });
        if (!res.ok) expect(['BAD', 'NO']).toContain(res.error.status);
      } else if (ev.kind === 'error') expect(['BAD', 'NO']).toContain(ev.error.status);
    }
  }
  reader.close();
  return events;
}

describe('CommandReader + parseCommand under mutated input', () => {
  test('2000 seeded mutations: only values, never exceptions, each fast', () => {
    const r = rng(20261126);
    let slowest = 0;
    let events = 0;
    for (let i = 0; i < 2000; i++) {
      const input = Buffer.concat([mutate(r, r.pick(SEEDS)), Buffer.from('\r\nz NOOP\r\n')]);
      const t0 = performance.now();
      events += feed(r, input);
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(events).toBeGreaterThan(2000);
    expect(slowest).toBeLessThan(200); // typically < 10 ms; slack for a loaded CI machine
  });

  test('odd literals get a tagged BAD, not an exception', () => {
    const bad = (raw: string) => {
      const res = parseRaw(raw);
      return res.ok ? 'OK' : `${res.error.tag} ${res.error.status} ${res.error.text}`;
    };
    expect(bad('a LOGIN {999999999999}\r\n')).toBe('a BAD Literal size too large');
    expect(bad('a LOGIN {99999999999999999999999}\r\n')).toBe('a BAD Literal size too large');
    expect(bad('a LOGIN {-1}\r\n')).toBe('a BAD Invalid literal size');
    expect(bad('a LOGIN {1+}\r\n\r\n')).toBe('a BAD Invalid arguments.');
    expect(bad('a LOGIN a\x00b c\r\n')).toBe('a BAD Invalid characters in atom');
    expect(bad('a LOGIN ' + 'x'.repeat(70000) + ' y\r\n')).toBe('a BAD Too long argument.');
  });

  test('deep list nesting is refused before anything recurses over it', () => {
    for (const cmd of ['FETCH 1 ', 'ID ', 'STORE 1 FLAGS ', 'SEARCH ', 'SETMETADATA INBOX ']) {
      const res = parseRaw(`a ${cmd}${'('.repeat(20000)}${')'.repeat(20000)}\r\n`);
      expect(!res.ok && res.error).toEqual({ tag: 'a', status: 'BAD', text: 'Too deep list nesting' });
    }
    expect(parseRaw(`a FETCH 1 ${'('.repeat(100)}FLAGS${')'.repeat(100)}\r\n`).ok).toBe(false); // parsed, then a syntax BAD
  });

  test('long NOT / OR chains in SEARCH are refused, short ones parse', () => {
    for (const keys of ['NOT '.repeat(15000) + 'ALL', 'OR ALL '.repeat(9000) + 'ALL']) {
      const res = parseRaw(`a SEARCH ${keys}\r\n`);
      expect(!res.ok && res.error).toEqual({ tag: 'a', status: 'BAD', text: 'Too deep search nesting' });
    }
    expect(parseRaw(`a SEARCH ${'NOT '.repeat(50)}ALL\r\n`).ok).toBe(true);
  });

  test('a LIST pattern built to backtrack matches in linear time', () => {
    const t0 = performance.now();
    const m = compileMailboxPattern('*a'.repeat(3000) + 'b', '/');
    expect(m.matches('a'.repeat(200))).toBe(false);
    expect(m.mayMatchChildren('a'.repeat(200))).toBe(true);
    expect(compileMailboxPattern('%a'.repeat(30) + 'b', '/').matches('a'.repeat(60) + '/b')).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('hostile messages', () => {
  const render = (raw: string) => {
    const root = parseMessage(Buffer.from(raw, 'latin1'));
    return { root, body: formatBodyStructure(root, true), envelope: formatEnvelope(root.envelope ?? {}) };
  };

  test('a stray ";" in an address header ends (it used to loop forever)', () => {
    const { envelope } = render('From: a;b\r\nTo: Bert <b@x>;\r\n\r\nx\r\n');
    expect(envelope).toContain('((NIL NIL "a" "MISSING_DOMAIN")(NIL NIL "b" "MISSING_DOMAIN"))');
  });

  test('nesting deeper than 100 parts is kept as leaves instead of overflowing the stack', () => {
    const messages = render('Content-Type: message/rfc822\r\n\r\n'.repeat(5000) + 'Subject: x\r\n\r\nbody\r\n');
    let depth = 0;
    for (let p = messages.root; p.message; p = p.message) depth++;
    expect(depth).toBe(100);
    let multi = '';
    for (let i = 0; i < 3000; i++) multi += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
    expect(render(multi + '\r\nx\r\n').body.length).toBeGreaterThan(0);
  });
});
