// Compares Roost's MIME outputs with what Dovecot 2.3.19 returned for the same messages
// (test/fixtures/mime/*.json, captured as described in test/fixtures/mime/README.md).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMessage } from '../../src/mime/parser.js';
import { readSection, parseSectionSpec } from '../../src/mime/section.js';
import { formatBodyStructure } from '../../src/imap/protocol/bodystructure.js';
import { formatEnvelope } from '../../src/imap/protocol/envelope.js';
import { snippet } from '../../src/mime/decode.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mime');

interface Captured {
  BODYSTRUCTURE: string;
  BODY: string;
  ENVELOPE: string;
  'RFC822.SIZE': string;
  PREVIEW: string | null;
  sections: Record<string, string | null | { error: string }>;
}

const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.eml')).map((f) => f.slice(0, -4)).sort();

describe.each(names)('%s matches Dovecot', (name) => {
  const eml = readFileSync(join(FIXTURES, `${name}.eml`));
  const expected = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Captured;
  const tree = parseMessage(eml);

  test('BODYSTRUCTURE', () => {
    expect(formatBodyStructure(tree, true)).toBe(expected.BODYSTRUCTURE);
  });
  test('BODY', () => {
    expect(formatBodyStructure(tree, false)).toBe(expected.BODY);
  });
  test('ENVELOPE', () => {
    expect(formatEnvelope(tree.envelope ?? {})).toBe(expected.ENVELOPE);
  });
  test('RFC822.SIZE', () => {
    expect(String(tree.header.virtual + tree.body.virtual)).toBe(expected['RFC822.SIZE']);
  });
  test.each(Object.keys(expected.sections))('BODY[%s]', (spec) => {
    const want = expected.sections[spec];
    const parsed = parseSectionSpec(spec);
    if (want !== null && typeof want === 'object') {
      expect(parsed).toBeNull();
      return;
    }
    expect(parsed).not.toBeNull();
    expect(readSection(eml, tree, parsed!).toString('latin1')).toBe(want);
  });
});

describe.each(names)('%s snippet', (name) => {
  test('matches Dovecot PREVIEW', () => {
    const eml = readFileSync(join(FIXTURES, `${name}.eml`));
    const expected = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Captured;
    const got = Buffer.from(snippet(eml, parseMessage(eml)), 'utf8').toString('latin1');
    expect(got).toBe(expected.PREVIEW ?? '');
  });
});
