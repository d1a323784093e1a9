import { PassThrough, Writable } from 'node:stream';
import {
  atom,
  continuationLine,
  errorLine,
  formatAstring,
  formatMailbox,
  formatNString,
  formatString,
  formatValue,
  parseCommand,
  CommandReader,
  taggedLine,
  untaggedLine,
  untaggedStatusLine,
  writeLiteral,
  type LiteralSource,
} from '../../../src/imap/protocol/index.js';

/** Reads `value` back through the command reader as the first argument of a LOGIN. */
function roundTrip(wire: string): string {
  const reader = new CommandReader({ sendContinuation: () => undefined });
  reader.push(Buffer.from(`a LOGIN ${wire} x\r\n`, 'latin1'));
  const ev = reader.next();
  if (ev?.kind !== 'command') throw new Error(JSON.stringify(ev));
  const r = parseCommand(ev.tag, ev.name, ev.args);
  if (!r.ok || r.command.name !== 'LOGIN') throw new Error('no parse');
  return r.command.username;
}

describe('quoting', () => {
  test('plain text is quoted, with \\ and " escaped', () => {
    expect(formatString('hello world')).toBe('"hello world"');
    expect(formatString('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  test('CR, LF, NUL, 8-bit and long strings become literals', () => {
    expect(formatString('a\r\nb')).toBe('{4}\r\na\r\nb');
    expect(formatString('nul\x00')).toBe('{4}\r\nnul\x00');
    expect(formatString('ä')).toBe('{2}\r\n\xc3\xa4');
    expect(formatString('x'.repeat(2000)).startsWith('{2000}\r\n')).toBe(true);
    // After UTF8=ACCEPT, 8-bit UTF-8 may be quoted.
    expect(formatString('ä', { utf8: true })).toBe('"ä"');
  });

  test.each(['plain', 'with space', 'q"uote', 'back\\slash', 'line\r\nbreak', 'NIL', '', 'x'.repeat(1500)])('round trip %j', (value) => {
    expect(roundTrip(formatString(value))).toBe(value);
  });

  test('astring, nstring, NIL, lists, atoms', () => {
    expect(formatAstring('INBOX')).toBe('INBOX');
    expect(formatAstring('has space')).toBe('"has space"');
    expect(formatAstring('NIL')).toBe('"NIL"');
    expect(formatAstring('')).toBe('""');
    expect(formatNString(null)).toBe('NIL');
    expect(formatValue([atom('\\Seen'), 'text', null, 42, ['nested', atom('X')]])).toBe('(\\Seen "text" NIL 42 ("nested" X))');
  });

  test('mailbox names are mUTF-7 encoded and quoted', () => {
    expect(formatMailbox('Entwürfe')).toBe('"Entw&APw-rfe"');
    expect(formatMailbox('Entwürfe', { utf8: true })).toBe('"Entwürfe"');
  });
});

describe('response lines', () => {
  test('tagged, untagged, continuation, response codes', () => {
    expect(taggedLine('a1', 'OK', 'SELECT completed', { name: 'READ-WRITE' })).toBe('a1 OK [READ-WRITE] SELECT completed\r\n');
    expect(taggedLine('a1', 'NO', 'Too big', 'TOOBIG')).toBe('a1 NO [TOOBIG] Too big\r\n');
    expect(untaggedStatusLine('OK', 'UIDs valid', { name: 'UIDVALIDITY', args: '3857529045' })).toBe('* OK [UIDVALIDITY 3857529045] UIDs valid\r\n');
    expect(untaggedLine('3 EXISTS')).toBe('* 3 EXISTS\r\n');
    expect(continuationLine()).toBe('+ OK\r\n');
    expect(continuationLine('')).toBe('+ \r\n');
    expect(errorLine({ tag: null, status: 'BAD', text: 'Invalid tag.' })).toBe('* BAD Invalid tag.\r\n');
    expect(errorLine({ tag: 'x', status: 'NO', code: 'TOOBIG', text: 'big' })).toBe('x NO [TOOBIG] big\r\n');
  });
});

describe('streaming literals', () => {
  const source = (size: number): LiteralSource & { reads: number[] } => {
    const reads: number[] = [];
    return {
      size,
      reads,
      read(offset, length) {
        reads.push(length);
        return Buffer.alloc(Math.min(length, size - offset), 0x41 + (offset % 26));
      },
    };
  };

  test('writes the literal header and all bytes in bounded chunks, waiting for drain', async () => {
    let received = 0;
    let drains = 0;
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        setImmediate(cb);
      },
    });
    slow.on('drain', () => drains++);
    const src = source(1024 * 1024);
    await writeLiteral(slow, src);
    expect(received).toBe(1024 * 1024 + '{1048576}\r\n'.length);
    expect(Math.max(...src.reads)).toBeLessThanOrEqual(64 * 1024);
    expect(drains).toBeGreaterThan(0);
  });

  test('a partial range is clipped to the body, literal8 uses ~{n}', async () => {
    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (c: Buffer) => parts.push(c));
    await writeLiteral(out, { size: 10, read: (o, l) => Buffer.from('0123456789').subarray(o, o + l) }, { offset: 7, length: 100 }, true);
    expect(Buffer.concat(parts).toString()).toBe('~{3}\r\n789');
  });

  test('fails instead of hanging when the connection closes', async () => {
    const dead = new Writable({ highWaterMark: 1, write: (_c, _e, _cb) => undefined });
    const pending = writeLiteral(dead, source(1000));
    setImmediate(() => dead.destroy());
    await expect(pending).rejects.toThrow(/closed/);
  });
});
