import { decodeMailboxName, encodeMailboxName } from '../../../src/imap/protocol/index.js';

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  test.each([
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['A&B', 'A&-B'],
    ['&', '&-'],
    ['plain', 'plain'],
    ['😀 emoji', '&2D3eAA- emoji'],
    ['Ünïcödé', '&ANw-n&AO8-c&APY-d&AOk-'],
  ])('%s ⇄ %s', (utf8, wire) => {
    expect(encodeMailboxName(utf8)).toBe(wire);
    expect(decodeMailboxName(wire)).toBe(utf8);
  });

  test.each([
    ['&U,BTFw', 'unterminated run'],
    ['&AGE-', 'printable ASCII encoded'],
    ['&U,BTF-', 'odd number of bytes'],
    ['&U,BTFx-', 'non-zero padding bits'],
    ['&2D0-', 'lone high surrogate'],
    ['&3gA-', 'lone low surrogate'],
    ['&U,A-&U,A-', 'adjacent runs'],
    ['a\x01b', 'control character'],
    ['Entwürfe', 'raw 8-bit'],
    ['&U/BTFw-', '/ instead of ,'],
  ])('rejects %j (%s)', (wire) => {
    expect(decodeMailboxName(wire)).toBeNull();
  });
});
