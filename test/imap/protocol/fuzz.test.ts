// Hostile input against the wire format: seeded mutations of valid commands go through the
// CommandReader and parseCommand, and hostile messages through parseMessage and the
// BODYSTRUCTURE / ENVELOPE writers. Every outcome must be a value (a command or a BAD/NO error),
// never a thrown exception. Deterministic (fixed seed); the time per input is bench/parser-fuzz.ts's.
import { compileMailboxPattern } from '../../../src/imap/protocol/index.js';
import { formatBodyStructure } from '../../../src/imap/protocol/bodystructure.js';
import { formatEnvelope } from '../../../src/imap/protocol/envelope.js';
import { parseMessage } from '../../../src/mime/parser.js';
import { parseRaw } from './helpers.js';
import { feed, mutate, rng, SEEDS } from '../../../bench/fuzz-corpus.js';

describe('CommandReader + parseCommand under mutated input', () => {
  // How long each input takes is a figure, not an assertion (a busy machine is slow, not
  // broken): bench/parser-fuzz.ts prints it. An input that sent the reader into a runaway loop
  // would still fail here, on the test's timeout.
  test('2000 seeded mutations: only values, never exceptions', () => {
    const r = rng(20261126);
    let events = 0;
    for (let i = 0; i < 2000; i++) {
      const input = Buffer.concat([mutate(r, r.pick(SEEDS)), Buffer.from('\r\nz NOOP\r\n')]);
      events += feed(r, input);
    }
    expect(events).toBeGreaterThan(2000);
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

  // A backtracking matcher would take astronomically long on this pattern (the test's timeout
  // catches that); bench/parser-fuzz.ts prints the time it takes.
  test('a LIST pattern built to backtrack still answers', () => {
    const m = compileMailboxPattern('*a'.repeat(3000) + 'b', '/');
    expect(m.matches('a'.repeat(200))).toBe(false);
    expect(m.mayMatchChildren('a'.repeat(200))).toBe(true);
    expect(compileMailboxPattern('%a'.repeat(30) + 'b', '/').matches('a'.repeat(60) + '/b')).toBe(false);
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
