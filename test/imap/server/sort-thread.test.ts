// SORT (RFC 5256, SORT=DISPLAY, ESORT) and THREAD (ORDEREDSUBJECT, REFERENCES, REFS), differential:
// the messages of test/fixtures/sort-thread are appended with their INTERNALDATEs and every
// command of the recording is answered by Roost as Dovecot 2.3.19 answered it (see the README
// there for how the recording was made).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sort-thread');
const messages = JSON.parse(readFileSync(path.join(FIXTURES, 'messages.json'), 'utf8')) as Array<{ file: string; internaldate: string }>;
const answers = JSON.parse(readFileSync(path.join(FIXTURES, 'dovecot-answers.json'), 'utf8')) as Array<{ command: string; untagged: string[]; status: string }>;

let t: TestServer;
let c: RawClient;
beforeAll(async () => {
  t = await startTestServer();
  c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE sorttest');
  for (const m of messages) {
    const body = readFileSync(path.join(FIXTURES, m.file));
    c.send(`a APPEND sorttest () "${m.internaldate}" {${body.length}+}\r\n`);
    c.socket.write(body);
    c.send('\r\n');
    expect((await c.until((l) => l.startsWith('a '))).pop()).toMatch(/^a OK/);
  }
  await c.command('s', 'SELECT sorttest');
});
afterAll(async () => {
  c.close();
  await t.stop();
});

let n = 0;
test.each(answers.map((a) => [a.command, a] as const))('%s', async (_name, answer) => {
  const tag = `r${++n}`;
  const lines = await c.command(tag, answer.command);
  const tagged = lines.pop()!;
  expect(tagged.slice(tag.length + 1).split(' ')[0]).toBe(answer.status);
  // ESEARCH lines name the tag the recording used.
  const untagged = lines.filter((l) => /^\* (SORT|THREAD|ESEARCH)/.test(l)).map((l) => l.replace(/^\* ESEARCH \(TAG "[^"]*"\)/, '* ESEARCH (TAG "x")'));
  expect(untagged).toEqual(answer.untagged.map((l) => l.replace(/^\* ESEARCH \(TAG "[^"]*"\)/, '* ESEARCH (TAG "x")')));
});
