// SORT over more messages than one slice sorts in one piece (sortInSlices merges runs of 512):
// the order is still by the key, ties by sequence number (RFC 5256 §3).
import { RawClient, startTestServer, type TestServer } from './helpers.js';

const COUNT = 1300;
/** 325 distinct subjects, 4 messages each, spread so that no run of 512 is already in order. */
const subjectKey = (i: number) => (i * 37) % 325;

let t: TestServer;
let c: RawClient;
beforeAll(async () => {
  t = await startTestServer();
  c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE big');
  // One MULTIAPPEND (RFC 3502) with LITERAL+ literals.
  let command = 'a APPEND big';
  const parts: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const msg = `From: u${i}@example.org\r\nSubject: Re: topic ${String(subjectKey(i)).padStart(3, '0')}\r\nDate: 1 Mar 2025 10:00:00 +0000\r\n\r\nmessage ${i}\r\n`;
    parts.push(` {${msg.length}+}\r\n${msg}`);
  }
  command += parts.join('') + '\r\n';
  c.send(command);
  expect((await c.until((l) => l.startsWith('a '))).pop()).toMatch(/^a OK/);
  await c.command('s', 'SELECT big');
});
afterAll(async () => {
  c.close();
  await t.stop();
});

test(`SORT (SUBJECT) over ${COUNT} messages: by base subject, ties by sequence number`, async () => {
  const lines = await c.command('x', 'SORT (SUBJECT) UTF-8 ALL');
  expect(lines.pop()).toMatch(/^x OK/);
  const seqs = Array.from({ length: COUNT }, (_, i) => i + 1);
  const expected = seqs.sort((a, b) => subjectKey(a - 1) - subjectKey(b - 1) || a - b);
  expect(lines.filter((l) => l.startsWith('* SORT'))).toEqual([`* SORT ${expected.join(' ')}`]);
});

test(`SORT (REVERSE SUBJECT) over ${COUNT} messages: ties still by ascending sequence number`, async () => {
  const lines = await c.command('y', 'SORT (REVERSE SUBJECT) UTF-8 ALL');
  expect(lines.pop()).toMatch(/^y OK/);
  const seqs = Array.from({ length: COUNT }, (_, i) => i + 1);
  const expected = seqs.sort((a, b) => subjectKey(b - 1) - subjectKey(a - 1) || a - b);
  expect(lines.filter((l) => l.startsWith('* SORT'))).toEqual([`* SORT ${expected.join(' ')}`]);
});
