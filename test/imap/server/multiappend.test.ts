// MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all together or not at all.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.plugin.quota_rule = '*:messages=4';
  });
});
afterAll(async () => t.stop());

const m = (s: string) => `Subject: ${s}\r\n\r\n${s}\r\n`;
const lit = (s: string) => `{${s.length}+}\r\n${s}`;

test('consecutive UIDs, each message with its own flags and date; all or nothing on failure', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ MULTIAPPEND /);
  await c.command('c', 'CREATE multi');
  c.send(`a APPEND multi (\\Seen) "01-Feb-2020 10:00:00 +0000" ${lit(m('one'))} (\\Flagged) ${lit(m('two'))} ${lit(m('three'))}\r\n`);
  expect((await c.until((l) => l.startsWith('a '))).pop()).toMatch(/^a OK \[APPENDUID \d+ 1:3\] Append completed\.$/);
  await c.command('s', 'EXAMINE multi');
  const f = await c.command('f', 'FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  expect(f.filter((l) => l.startsWith('*')).map((l) => /FLAGS \(([^)]*)\)/.exec(l)![1])).toEqual(['\\Seen', '\\Flagged', '']);
  expect(f[0]).toContain('INTERNALDATE "01-Feb-2020');
  // A zero-byte message in the middle: nothing of the batch is stored.
  c.send(`b APPEND multi ${lit(m('four'))} {0+}\r\n\r\n`);
  expect((await c.until((l) => l.startsWith('b '))).pop()).toBe("b NO Can't save a zero byte message.");
  // Over quota (4 messages) half-way through: nothing stored either.
  c.send(`d APPEND multi ${lit(m('four'))} ${lit(m('five'))}\r\n`);
  expect((await c.until((l) => l.startsWith('d '))).pop()).toMatch(/^d NO \[OVERQUOTA\]/);
  await c.command('u', 'UNSELECT');
  expect(await c.command('st', 'STATUS multi (MESSAGES)')).toEqual(['* STATUS multi (MESSAGES 3)', 'st OK Status completed.']);
  c.close();
});
