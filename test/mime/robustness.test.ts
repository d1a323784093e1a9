// Broken input never throws, and a chunked storage reader gives the same tree as a Buffer.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMessage } from '../../src/mime/parser.js';
import { bodyText, headerValues, snippet } from '../../src/mime/decode.js';
import { parseSectionSpec, readSection } from '../../src/mime/section.js';
import { formatBodyStructure } from '../../src/imap/protocol/bodystructure.js';
import { formatEnvelope } from '../../src/imap/protocol/envelope.js';
import type { MessageSource } from '../../src/mime/types.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mime');
const emls = readdirSync(FIXTURES).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(FIXTURES, f)));

/** A reader that hands out at most 7 bytes per call, like a chunked store at its worst. */
function tinyChunkReader(buf: Buffer): MessageSource {
  return { size: buf.length, read: (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + Math.min(length, 7))) };
}

test('a chunked reader yields the same tree as a Buffer', () => {
  for (const eml of emls) expect(parseMessage(tinyChunkReader(eml))).toEqual(parseMessage(eml));
});

test('truncated and mangled messages never throw', () => {
  let seed = 42;
  const random = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const spec = parseSectionSpec('1.2.HEADER.FIELDS (FROM)')!;
  for (const eml of emls) {
    for (let k = 0; k < 15; k++) {
      const cut = eml.subarray(0, random(eml.length + 1));
      const mangled = Buffer.from(cut);
      for (let j = 0; j < 5 && mangled.length > 0; j++) mangled[random(mangled.length)] = [0, 10, 13, 45, 0xff][random(5)]!;
      for (const msg of [cut, mangled]) {
        const tree = parseMessage(msg);
        formatBodyStructure(tree, true);
        formatEnvelope(tree.envelope ?? {});
        readSection(msg, tree, spec);
        bodyText(msg, tree);
        snippet(msg, tree);
        headerValues(msg, tree, 'subject');
      }
    }
  }
});

test('decoded header values and body text', () => {
  const eml = readFileSync(join(FIXTURES, 'rfc2047-headers.eml'));
  const tree = parseMessage(eml);
  expect(headerValues(eml, tree, 'From')).toEqual(['André Pirard <PIRARD@vm1.ulg.ac.be>']);
  const alt = readFileSync(join(FIXTURES, 'multipart-alternative.eml'));
  expect(bodyText(alt, parseMessage(alt).children![0]!)).toContain('Visit our café too.');
  const named = readFileSync(join(FIXTURES, 'rfc2231-filename.eml'));
  const attachment = parseMessage(named).children![1]!;
  expect(attachment.decodedParams['name']).toBe('Geschäftsbericht 2024 – final.docx');
  expect(attachment.decodedDispositionParams['filename']).toBe('Geschäftsbericht 2024 – final.docx');
});

// How long it takes is a figure for bench/, not an assertion (the test's timeout catches a parser
// that goes quadratic on it).
test('a message of 30,000 tiny parts is cut at 10,000 parts', () => {
  const parts: string[] = [];
  for (let i = 0; i < 30_000; i++) parts.push(`--b\r\nContent-Type: text/plain\r\n\r\n${i}\r\n`);
  const raw = Buffer.from(`Content-Type: multipart/mixed; boundary="b"\r\n\r\n${parts.join('')}--b--\r\n`);
  const root = parseMessage(raw);
  expect(root.children!.length).toBeLessThan(10_000);
  expect(root.body.physical).toBe(raw.length - root.bodyStart);
});
