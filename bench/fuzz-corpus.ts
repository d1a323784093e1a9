// Seeded mutations of valid IMAP commands, shared by the parser fuzz test
// (test/imap/protocol/fuzz.test.ts: every outcome is a value) and bench/parser-fuzz.ts (how long
// each input takes). Deterministic: the same seed gives the same inputs on every run.
import { CommandReader, memorySinkFactory, parseCommand } from '../src/imap/protocol/index.js';

/** xorshift32: the same sequence on every run. */
export function rng(seed: number) {
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

export const SEEDS = [
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
export const TOKENS = [
  '{999999999999}', '{-1}', '{1+}', '{0}', '~{5+}', '{99999999999999999999}', '(', ')', '"', '\\', '[', ']', '<', '>', '*', '%',
  '\x00', '\xff', '\r', '\n', 'NIL', '4294967295', '4294967296', '99999999999999999999', '0', '-1', '1:*', '*:*', '0:0', ',', ':',
  'BODY[', 'BODY[]<', 'BODY[1.]', '(CHANGEDSINCE', '&', '&AAA', 'x'.repeat(3000), '('.repeat(500), 'NOT '.repeat(300),
];

export function mutate(r: ReturnType<typeof rng>, input: string): Buffer {
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

/**
 * Feeds `bytes` to a CommandReader in random chunks and parses each command; returns how many
 * events came back. Throws if anything throws, or if an error is anything but a BAD or NO.
 */
export function feed(r: ReturnType<typeof rng>, bytes: Buffer): number {
  const reader = new CommandReader({ sendContinuation: () => undefined, sinkFactory: memorySinkFactory(), maxLineLength: r.int(4) === 0 ? 300 : undefined });
  const checkStatus = (status: string) => {
    if (status !== 'BAD' && status !== 'NO') throw new Error(`unexpected error status ${status}`);
  };
  let events = 0;
  for (let p = 0; p < bytes.length; ) {
    const n = 1 + r.int(bytes.length);
    reader.push(bytes.subarray(p, p + n));
    p += n;
    for (let ev = reader.next(); ev; ev = reader.next()) {
      events++;
      if (ev.kind === 'command') {
        const res = parseCommand(ev.tag, ev.name, ev.args, { utf8Accept: r.int(2) === 0 });
        if (!res.ok) checkStatus(res.error.status);
      } else if (ev.kind === 'error') checkStatus(ev.error.status);
    }
  }
  reader.close();
  return events;
}
