import { CommandReader, describeArg, memorySinkFactory, type CommandReaderOptions, type ReaderEvent } from '../../../src/imap/protocol/index.js';
import { waitUntil } from '../../poll.js';

type Options = Partial<CommandReaderOptions>;

/** Feeds `input` split at `cuts` and returns the events plus the number of `+` continuations sent. */
function run(input: string | Buffer, cuts: number[] = [], options: Options = {}): { events: ReaderEvent[]; continuations: number[] } {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const continuations: number[] = [];
  let fed = 0;
  const reader = new CommandReader({ sendContinuation: () => continuations.push(fed), sinkFactory: memorySinkFactory(), ...options });
  const events: ReaderEvent[] = [];
  const points = [...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
  let prev = 0;
  for (const p of points) {
    reader.push(bytes.subarray(prev, p));
    fed = p;
    prev = p;
    for (let ev = reader.next(); ev; ev = reader.next()) events.push(ev);
  }
  return { events, continuations };
}

const byteByByte = (s: string) => Array.from({ length: s.length }, (_, i) => i);

/** A compact rendering of events for assertions. */
function show(events: ReaderEvent[]): string[] {
  return events.map((e) => {
    if (e.kind === 'command') return `${e.tag} ${e.name}${e.args.map((a) => ' ' + describeArg(a)).join('')}`;
    if (e.kind === 'line') return `LINE ${e.text}`;
    return `${e.error.tag ?? '*'} ${e.error.status}${e.error.code ? ` [${e.error.code}]` : ''} ${e.error.text}`;
  });
}

describe('CommandReader', () => {
  test('reads tags, atoms, quoted strings with escapes, NIL and nested lists', () => {
    const { events } = run('a1 LOGIN "us\\"er" "p\\\\w"\r\nA2 ID ("name" NIL ("x" (y)))\r\n');
    expect(show(events)).toEqual(['a1 LOGIN "us\\"er" "p\\\\w"', 'A2 ID ("name" NIL ("x" (y)))']);
    const login = events[0];
    expect(login?.kind === 'command' && login.args[0]).toEqual({ type: 'string', value: 'us"er' });
  });

  test('keeps a section spec with spaces and parentheses inside one atom', () => {
    const { events } = run('f FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (From To)]<0.100> FLAGS)\r\n');
    expect(show(events)).toEqual(['f FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (From To)]<0.100> FLAGS)']);
  });

  test('accepts bare LF line ends and skips empty lines', () => {
    expect(show(run('\r\na NOOP\n\nb NOOP\r\n').events)).toEqual(['a NOOP', 'b NOOP']);
  });

  test('a synchronizing literal is acknowledged with + before its bytes, whatever the chunking', () => {
    const input = 'a LOGIN {5}\r\nalice {6}\r\nsecret\r\nb NOOP\r\n';
    for (const cuts of [byteByByte(input), [3, 13, 18, 24, 27]]) {
      const { events, continuations } = run(input, cuts);
      expect(show(events)).toEqual(['a LOGIN {5} {6}', 'b NOOP']);
      const args = events[0]?.kind === 'command' ? events[0].args : [];
      expect(args.map((a) => (a.type === 'literal' ? a.data.toString() : ''))).toEqual(['alice', 'secret']);
      // Two continuations, each sent once the marker line was complete, before the literal arrived.
      expect(continuations).toHaveLength(2);
      expect(continuations[0]).toBeLessThanOrEqual(input.indexOf('alice'));
      expect(continuations[1]).toBeLessThanOrEqual(input.indexOf('secret'));
    }
  });

  test('random splits give the same result as one chunk', () => {
    const input = 'a APPEND Drafts (\\Seen) "05-Nov-2026 10:00:00 +0100" {11+}\r\nhello\r\nwrld\r\nb SEARCH OR FROM "x y" TEXT {3}\r\nabc\r\nc NOOP\n';
    const whole = show(run(input).events);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 50; round++) {
      const cuts = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => Math.floor(rand() * input.length)).sort((x, y) => x - y);
      expect(show(run(input, cuts).events)).toEqual(whole);
    }
    expect(whole).toEqual(['a APPEND Drafts (\\Seen) "05-Nov-2026 10:00:00 +0100" {11}', 'b SEARCH OR FROM "x y" TEXT {3}', 'c NOOP']);
  });

  test('LITERAL+ {n+} sends no continuation', () => {
    const { events, continuations } = run('a LOGIN {5+}\r\nalice {3+}\r\npwd\r\n');
    expect(show(events)).toEqual(['a LOGIN {5} {3}']);
    expect(continuations).toEqual([]);
  });

  test('literal8 ~{n} is marked binary', () => {
    const { events } = run('a APPEND INBOX ~{3}\r\n\x00\x01\x02\r\n');
    const arg = events[0]?.kind === 'command' ? events[0].args[1] : undefined;
    expect(arg).toEqual({ type: 'literal', data: Buffer.from([0, 1, 2]), binary: true });
  });

  test('a literal inside a list continues the list on the next fragment', () => {
    const { events } = run('a SETMETADATA INBOX (/private/comment {2}\r\nhi /shared/x NIL)\r\n');
    expect(show(events)).toEqual(['a SETMETADATA INBOX (/private/comment {2} /shared/x NIL)']);
  });

  test.each([
    ['a LOGIN "unterminated\r\n', 'a BAD Missing \'"\''],
    ['a NOOP )\r\n', "a BAD Unexpected ')'"],
    ['a LIST ("x" \r\n', "a BAD Missing ')'"],
    ['a FETCH 1 (FLAGS\r\n', "a BAD Missing ')'"],
    ['a LOGIN us(er x\r\n', 'a BAD Invalid characters in atom'],
    ['a LOGIN \xe4 x\r\n', 'a BAD 8bit data in atom'],
    ['a LOGIN {x}\r\n', 'a BAD Invalid literal size'],
    ['a LOGIN {5+x}\r\n', "a BAD Expecting '}' after '+'"],
    ['a LOGIN {5} x\r\n', 'a BAD Missing LF after literal size'],
    ['+tag NOOP\r\n', '* BAD Invalid tag.'],
    ['a\r\n', 'a BAD Missing command.'],
  ])('syntax error %j → %s, then the next command still works', (bad, expected) => {
    const { events, continuations } = run(bad + 'z NOOP\r\n');
    expect(show(events)).toEqual([expected, 'z NOOP']);
    expect(continuations).toEqual([]);
  });

  test('a syntax error on a line that announces {n+} swallows the literal', () => {
    const { events } = run('a LOGIN us(er {4+}\r\nz NO\r\nb NOOP\r\n');
    expect(show(events)).toEqual(['a BAD Invalid characters in atom', 'b NOOP']);
  });

  test('a line over the limit is refused and skipped without buffering it', () => {
    const reader = new CommandReader({ maxLineLength: 100, sendContinuation: () => undefined });
    reader.push(Buffer.from('t1 LOGIN ' + 'x'.repeat(150)));
    const first = reader.next();
    expect(first).toEqual({ kind: 'error', error: { tag: 't1', status: 'BAD', text: 'Too long argument.' } });
    expect(reader.bufferedBytes).toBe(0);
    reader.push(Buffer.from('y'.repeat(5000)));
    expect(reader.next()).toBeNull();
    expect(reader.bufferedBytes).toBe(0);
    reader.push(Buffer.from('yyy\r\nt2 NOOP\r\n'));
    expect(show([reader.next()!])).toEqual(['t2 NOOP']);
  });

  test('a complete line over the limit gets the same error', () => {
    const { events } = run(`t1 LOGIN ${'x'.repeat(200)}\r\nt2 NOOP\r\n`, [], { maxLineLength: 100 });
    expect(show(events)).toEqual(['t1 BAD Too long argument.', 't2 NOOP']);
  });

  test('an APPEND literal over the maximum gets NO [TOOBIG] and no continuation', () => {
    const { events, continuations } = run('a APPEND INBOX {1000}\r\nb NOOP\r\n', [], { maxLiteralSize: 999 });
    expect(show(events)).toEqual(['a NO [TOOBIG] Mail size is larger than the maximum size allowed by server configuration', 'b NOOP']);
    expect(continuations).toEqual([]);
  });

  test('a non-synchronizing APPEND literal over the maximum is swallowed, then refused', () => {
    const input = `a APPEND INBOX {1000+}\r\n${'m'.repeat(1000)}\r\nb NOOP\r\n`;
    const { events, continuations } = run(input, [30, 500, 1010], { maxLiteralSize: 999 });
    expect(show(events)).toEqual(['a NO [TOOBIG] Mail size is larger than the maximum size allowed by server configuration', 'b NOOP']);
    expect(continuations).toEqual([]);
  });

  test('a literal outside APPEND counts against the line limit (BAD, no continuation)', () => {
    const { events, continuations } = run('a LOGIN {500}\r\nb NOOP\r\n', [], { maxLineLength: 100 });
    expect(show(events)).toEqual(['a BAD Literal size too large', 'b NOOP']);
    expect(continuations).toEqual([]);
  });

  test('LITERAL-: non-synchronizing literals up to 4096 octets pass, bigger get BAD [TOOBIG] after being swallowed', () => {
    const ok = run(`a APPEND INBOX {4096+}\r\n${'x'.repeat(4096)}\r\n`, [], { nonSyncLiterals: 'LITERAL-' });
    expect(show(ok.events)).toEqual(['a APPEND INBOX {4096}']);
    const big = run(`a APPEND INBOX {4097+}\r\n${'x'.repeat(4097)}\r\nb NOOP\r\n`, [], { nonSyncLiterals: 'LITERAL-' });
    expect(show(big.events)).toEqual(['a BAD [TOOBIG] Non-synchronizing literal size too large', 'b NOOP']);
    // A synchronizing literal of the same size is fine under LITERAL-.
    const sync = run(`a APPEND INBOX {4097}\r\n${'x'.repeat(4097)}\r\n`, [], { nonSyncLiterals: 'LITERAL-' });
    expect(show(sync.events)).toEqual(['a APPEND INBOX {4097}']);
    expect(sync.continuations).toHaveLength(1);
  });

  test('big APPEND literals stream into the sink chunk by chunk, never whole in memory', async () => {
    const seen: number[] = [];
    const size = 300 * 1024;
    const payload = Buffer.alloc(size, 0x61);
    const header = Buffer.from(`a APPEND INBOX {${size}}\r\n`);
    const reader = new CommandReader({ sendContinuation: () => undefined, spoolThreshold: 1024, sinkFactory: memorySinkFactory((c) => seen.push(c.length)) });
    reader.push(header);
    expect(reader.next()).toBeNull();
    for (let off = 0; off < size; off += 16384) {
      reader.push(payload.subarray(off, off + 16384));
      expect(reader.next()).toBeNull();
      // Consumed as it arrived: the reader holds no growing copy.
      expect(reader.bufferedBytes).toBe(0);
    }
    reader.push(Buffer.from('\r\n'));
    const ev = reader.next();
    expect(ev?.kind).toBe('command');
    const arg = ev?.kind === 'command' ? ev.args[1] : undefined;
    expect(arg?.type).toBe('spooled');
    if (arg?.type === 'spooled') {
      expect(arg.body.size).toBe(size);
      expect((await arg.body.toBuffer()).equals(payload)).toBe(true);
    }
    expect(Math.max(...seen)).toBeLessThanOrEqual(16384);
  });

  test('the default sink spools to a temp file that dispose() removes', async () => {
    const { existsSync } = await import('node:fs');
    const size = 2000;
    const reader = new CommandReader({ sendContinuation: () => undefined, spoolThreshold: 100 });
    reader.push(Buffer.from(`a APPEND INBOX {${size}+}\r\n${'z'.repeat(size)}\r\n`));
    const ev = reader.next();
    const arg = ev?.kind === 'command' ? ev.args[1] : undefined;
    if (arg?.type !== 'spooled') throw new Error('expected a spooled literal');
    const body = arg.body as typeof arg.body & { path: string };
    expect((await body.toBuffer()).toString()).toBe('z'.repeat(size));
    expect(existsSync(body.path)).toBe(true);
    await body.dispose();
    expect(existsSync(body.path)).toBe(false);
  });

  test('a refused APPEND deletes its spooled literal', async () => {
    const { readdirSync, mkdtempSync, rmdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { parseCommand, tempFileSinkFactory } = await import('../../../src/imap/protocol/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'roost-spool-test-'));
    const reader = new CommandReader({ sendContinuation: () => undefined, spoolThreshold: 10, sinkFactory: tempFileSinkFactory(dir) });
    reader.push(Buffer.from(`a APPEND INBOX (\\Bogus) {100+}\r\n${'q'.repeat(100)}\r\n`));
    const ev = reader.next();
    if (ev?.kind !== 'command') throw new Error('expected a command');
    await waitUntil('the spooled literal', () => readdirSync(dir).length === 1);
    const parsed = parseCommand(ev.tag, ev.name, ev.args);
    expect(parsed.ok).toBe(false);
    await waitUntil('the spool file to be deleted', () => readdirSync(dir).length === 0);
    rmdirSync(dir);
  });

  test('a non-synchronizing literal over the line limit outside APPEND is swallowed, then BAD', () => {
    const { events } = run(`a LOGIN {500+}\r\n${'p'.repeat(500)} x\r\nb NOOP\r\n`, [], { maxLineLength: 100 });
    expect(show(events)).toEqual(['a BAD Literal size too large', 'b NOOP']);
  });

  test('raw-line mode hands back IDLE DONE and SASL lines', () => {
    const reader = new CommandReader({ sendContinuation: () => undefined });
    reader.push(Buffer.from('a IDLE\r\nDONE\r\nb NOOP\r\n'));
    expect(show([reader.next()!])).toEqual(['a IDLE']);
    reader.setRawLineMode(true);
    expect(reader.next()).toEqual({ kind: 'line', text: 'DONE' });
    reader.setRawLineMode(false);
    expect(show([reader.next()!])).toEqual(['b NOOP']);
    expect(reader.next()).toBeNull();
  });
});
