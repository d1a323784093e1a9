// FETCH engine: exact response bytes (expected values captured from Dovecot 2.3.19, see
// test/fixtures/mime/README.md), \Seen detection, partials across storage chunks, backpressure.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { planFetch, renderFetch, renderFetchAll, renderFetchFlagsOnly, needsSeen, uidsToMarkSeen, type FetchContext, type FetchOptions } from '../../../src/imap/commands/fetch-items.js';
import { ResponseBatcher } from '../../../src/imap/commands/fetch-output.js';
import { CollectingSink, FIXTURES, fetchAttributes, fixture, testMailbox, type TestMailbox } from './helpers.js';

const PLAIN: FetchOptions = { includeUid: false, includeModseq: false };

async function fetchText(box: TestMailbox, seq: number, items: string, opts: FetchOptions = PLAIN, recent: number[] = [], implicitFlags = false, sink = new CollectingSink()): Promise<string> {
  const out = new ResponseBatcher(sink);
  const ctx: FetchContext = { store: box.store, out, recentUids: new Set(recent) };
  const message = box.messages()[seq - 1]!;
  await renderFetch(ctx, message, planFetch(fetchAttributes(items), opts), implicitFlags);
  await out.flush();
  return sink.text;
}

describe('FETCH responses as Dovecot writes them', () => {
  let box: TestMailbox;
  const simple = fixture('simple-text');
  const header = simple.subarray(0, simple.indexOf('\r\n\r\n') + 4).toString('latin1');
  beforeAll(() => {
    box = testMailbox();
    box.append(simple, { internalDate: new Date('2026-11-25T22:24:49Z') });
    box.append(fixture('multipart-alternative'), { flags: ['\\Draft', '$Foo', '\\Answered', '\\Seen', 'zeta', '\\Flagged'] });
    box.append(fixture('bare-lf'));
  });
  afterAll(() => box.cleanup());

  test('UID FETCH writes UID first, other items in request order', async () => {
    const tz = -new Date('2026-11-25T22:24:49Z').getTimezoneOffset();
    expect(tz === 0 ? await fetchText(box, 1, '(RFC822.SIZE FLAGS INTERNALDATE)', { includeUid: true, includeModseq: false }, [1]) : 'skip').toBe(
      tz === 0 ? '* 1 FETCH (UID 1 RFC822.SIZE 296 FLAGS (\\Recent) INTERNALDATE "25-Nov-2026 22:24:49 +0000")\r\n' : 'skip');
    expect(await fetchText(box, 1, '(RFC822.SIZE FLAGS UID)', PLAIN, [1])).toBe('* 1 FETCH (RFC822.SIZE 296 FLAGS (\\Recent) UID 1)\r\n');
  });

  test('literal items come after the others', async () => {
    expect(await fetchText(box, 1, '(BODY.PEEK[HEADER] FLAGS BODY.PEEK[TEXT]<0.10> UID)', PLAIN, [1])).toBe(
      `* 1 FETCH (FLAGS (\\Recent) UID 1 BODY[HEADER] {216}\r\n${header} BODY[TEXT]<0> {10}\r\nHi Bob,\r\n\r)\r\n`);
    expect(await fetchText(box, 1, '(RFC822.HEADER RFC822.SIZE)')).toBe(`* 1 FETCH (RFC822.SIZE 296 RFC822.HEADER {216}\r\n${header})\r\n`);
  });

  test('RFC822, RFC822.TEXT, BODY[1] and an implicit FLAGS after \\Seen was set', async () => {
    const text = simple.subarray(216).toString('latin1');
    expect(await fetchText(box, 1, '(BODY[1] RFC822.TEXT)')).toBe(`* 1 FETCH (BODY[1] {80}\r\n${text} RFC822.TEXT {80}\r\n${text})\r\n`);
    expect(await fetchText(box, 1, '(UID RFC822)', PLAIN, [], true)).toBe(`* 1 FETCH (UID 1 FLAGS () RFC822 {296}\r\n${simple.toString('latin1')})\r\n`);
    expect(await fetchText(box, 1, '(BODY[TEXT]<2.5>)', PLAIN, [1], true)).toBe('* 1 FETCH (FLAGS (\\Recent) BODY[TEXT]<2> {5}\r\n Bob,)\r\n');
  });

  test('flags in Dovecot order, MODSEQ, CHANGEDSINCE adds MODSEQ', async () => {
    const modseq = box.messages()[1]!.meta.modseq;
    expect(await fetchText(box, 2, '(MODSEQ FLAGS)', PLAIN, [2])).toBe(`* 2 FETCH (MODSEQ (${modseq}) FLAGS (\\Answered \\Flagged \\Seen \\Draft \\Recent $Foo zeta))\r\n`);
    expect(await fetchText(box, 2, '(BODY.PEEK[TEXT]<0.2> FLAGS)', { includeUid: true, includeModseq: true })).toBe(
      `* 2 FETCH (UID 2 FLAGS (\\Answered \\Flagged \\Seen \\Draft $Foo zeta) MODSEQ (${modseq}) BODY[TEXT]<0> {2}\r\n--)\r\n`);
  });

  test('HEADER.FIELDS names upper-cased, MIME, missing parts empty', async () => {
    expect(await fetchText(box, 2, '(BODY[HEADER.FIELDS (Subject FROM)] BODY[1.MIME] BODY.PEEK[9] BODY.PEEK[1.TEXT])')).toBe(
      '* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {94}\r\nFrom: Newsletter <news@shop.example>\r\nSubject: =?UTF-8?Q?Spring_sale_=E2=80=93_30=25_off?=\r\n\r\n' +
      ' BODY[1.MIME] {90}\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n BODY[9] {0}\r\n BODY[1.TEXT] {0}\r\n)\r\n');
    expect(await fetchText(box, 1, '(BODY.PEEK[]<100000.10>)')).toBe('* 1 FETCH (BODY[]<100000> {0}\r\n)\r\n');
  });

  test('BINARY and BINARY.SIZE decode the part (literal8 for 8-bit content)', async () => {
    expect(await fetchText(box, 2, '(BINARY.SIZE[1] BINARY.PEEK[1])')).toBe(
      '* 2 FETCH (BINARY.SIZE[1] 71 BINARY[1] ~{71}\r\nSpring sale \xe2\x80\x93 everything 30% off until Sunday.\nVisit our caf\xc3\xa9 too.\r\n)\r\n');
    // A bare-LF message is sent with CRLF line ends.
    expect(await fetchText(box, 3, '(BINARY.SIZE[1] BINARY.PEEK[1]<0.20>)')).toBe('* 3 FETCH (BINARY.SIZE[1] 20 BINARY[1]<0> {20}\r\nLine one\r\nLine two\r\n)\r\n');
  });

  test('needsSeen and uidsToMarkSeen', () => {
    expect(needsSeen(fetchAttributes('(BODY.PEEK[] RFC822.HEADER FLAGS BINARY.PEEK[1])'))).toBe(false);
    for (const item of ['BODY[]', 'RFC822', 'RFC822.TEXT', 'BODY[1.MIME]', 'BINARY[1]']) expect(needsSeen(fetchAttributes(`(${item})`))).toBe(true);
    expect(uidsToMarkSeen(box.messages(), fetchAttributes('(BODY[TEXT])'))).toEqual([1, 3]);
    expect(uidsToMarkSeen(box.messages(), fetchAttributes('(BODY.PEEK[TEXT])'))).toEqual([]);
  });
});

describe('each fixture: ENVELOPE, BODYSTRUCTURE, BODY and sections match Dovecot', () => {
  const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.eml')).map((f) => f.slice(0, -4)).sort();
  let box: TestMailbox;
  beforeAll(() => {
    box = testMailbox({ bodyChunkBytes: 1024 });
    for (const n of names) box.append(fixture(n));
  });
  afterAll(() => box.cleanup());

  test.each(names.map((n, i) => [n, i + 1] as const))('%s', async (name, seq) => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as { BODYSTRUCTURE: string; BODY: string; ENVELOPE: string; sections: Record<string, unknown> };
    expect(await fetchText(box, seq, '(ENVELOPE BODYSTRUCTURE BODY)')).toBe(
      `* ${seq} FETCH (ENVELOPE ${expected.ENVELOPE} BODYSTRUCTURE ${expected.BODYSTRUCTURE} BODY ${expected.BODY})\r\n`);
    for (const [spec, value] of Object.entries(expected.sections)) {
      if (typeof value !== 'string') continue;
      const name = spec.replace(/\(([^)]*)\)/, (_, f: string) => `(${f.toUpperCase()})`);
      expect([spec, await fetchText(box, seq, `(BODY.PEEK[${spec}])`)]).toEqual([spec, `* ${seq} FETCH (BODY[${name}] {${value.length}}\r\n${value})\r\n`]);
    }
  });
});

describe('large messages stream in chunks', () => {
  let box: TestMailbox;
  // > 200 KB with bare LFs in the second half, so partial offsets count CRLF-converted bytes.
  const head = 'From: a@example.org\r\nSubject: big\r\n\r\n';
  const crlfLines = Array.from({ length: 3000 }, (_, i) => `line ${String(i).padStart(5, '0')} ${'x'.repeat(40)}\r\n`).join('');
  const lfLines = Array.from({ length: 2000 }, (_, i) => `bare ${String(i).padStart(5, '0')} ${'y'.repeat(40)}\n`).join('');
  const raw = Buffer.from(head + crlfLines + lfLines, 'latin1');
  const imapForm = (head + crlfLines + lfLines.replace(/\n/g, '\r\n'));
  const crlfOnly = Buffer.from(head + crlfLines, 'latin1');
  beforeAll(() => {
    box = testMailbox({ bodyChunkBytes: 4096 });
    box.append(raw);
    box.append(crlfOnly);
  });
  afterAll(() => box.cleanup());

  test.each([
    [0, 10], [4090, 20], [4096, 4096], [150_000, 9000], [raw.length - 5, 100], [imapForm.length - 3, 10],
  ])('BODY[]<%d.%d> of a message > 200 KB', async (offset, length) => {
    const got = await fetchText(box, 1, `(BODY.PEEK[]<${offset}.${length}>)`);
    const piece = imapForm.slice(offset, offset + length);
    expect(got).toBe(`* 1 FETCH (BODY[]<${offset}> {${piece.length}}\r\n${piece})\r\n`);
  });

  test('whole BODY[] and BODY[TEXT] partials of a CRLF message', async () => {
    expect(await fetchText(box, 2, '(BODY.PEEK[])')).toBe(`* 2 FETCH (BODY[] {${crlfOnly.length}}\r\n${crlfOnly.toString('latin1')})\r\n`);
    const text = crlfLines.slice(8191, 8191 + 5000);
    expect(await fetchText(box, 2, '(BODY.PEEK[TEXT]<8191.5000>)')).toBe(`* 2 FETCH (BODY[TEXT]<8191> {5000}\r\n${text})\r\n`);
  });

  test('waits for drain when the sink is full, and writes no chunk larger than a storage chunk', async () => {
    const sink = new CollectingSink(2);
    const got = await fetchText(box, 1, '(BODY.PEEK[])', PLAIN, [], false, sink);
    expect(got).toBe(`* 1 FETCH (BODY[] {${imapForm.length}}\r\n${imapForm})\r\n`);
    expect(sink.drains).toBeGreaterThan(20);
    expect(Math.max(...sink.chunks.map((c) => c.length))).toBeLessThanOrEqual(2 * 4096);
  });
});

describe('metadata-only FETCH over many messages', () => {
  test('one line per message, batched into few writes', async () => {
    const box = testMailbox();
    try {
      box.store.transaction(() => {
        for (let i = 0; i < 500; i++) box.store.append('INBOX', { content: Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`), flags: i % 2 ? ['\\Seen'] : [] });
      });
      const sink = new CollectingSink();
      const out = new ResponseBatcher(sink, 4096);
      const messages = box.messages();
      await renderFetchAll({ store: box.store, out, recentUids: new Set([500]) }, messages, planFetch(fetchAttributes('(UID FLAGS RFC822.SIZE)'), PLAIN));
      await out.flush();
      const lines = sink.text.split('\r\n').slice(0, -1);
      expect(lines).toHaveLength(500);
      expect(lines[0]).toBe('* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 20)');
      expect(lines[1]).toBe('* 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 20)');
      expect(lines[499]).toBe('* 500 FETCH (UID 500 FLAGS (\\Seen \\Recent) RFC822.SIZE 22)');
      expect(sink.chunks.length).toBeLessThan(10);
      // The same bytes from the compact listing.
      const flagsSink = new CollectingSink();
      const flagsOut = new ResponseBatcher(flagsSink);
      const rows = box.store.listMessageFlags(box.mailboxId).map((meta, i) => ({ seq: i + 1, meta }));
      await renderFetchFlagsOnly({ store: box.store, out: flagsOut, recentUids: new Set([500]) }, rows, planFetch(fetchAttributes('(UID FLAGS RFC822.SIZE)'), PLAIN));
      await flagsOut.flush();
      expect(flagsSink.text).toBe(sink.text);
    } finally {
      box.cleanup();
    }
  });
});
