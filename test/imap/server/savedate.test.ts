// SAVEDATE (RFC 8514): FETCH SAVEDATE, SEARCH SAVEDBEFORE / SAVEDON / SAVEDSINCE /
// SAVEDATESUPPORTED. The save date is when the message was stored in this mailbox, whatever
// INTERNALDATE the APPEND gave.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

const day = (d: Date) => `${d.getDate()}-${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()]}-${d.getFullYear()}`;

test('FETCH SAVEDATE and the SAVED* search keys', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ SAVEDATE /);
  await c.command('c', 'CREATE saved');
  const body = 'Subject: s\r\n\r\ns\r\n';
  c.send(`a APPEND saved "01-Jan-2001 00:00:00 +0000" {${body.length}+}\r\n${body}\r\n`);
  await c.until((l) => l.startsWith('a '));
  await c.command('s', 'SELECT saved');
  const f = await c.command('f', 'FETCH 1 (SAVEDATE INTERNALDATE)');
  const m = /^\* 1 FETCH \(SAVEDATE "([^"]+)" INTERNALDATE "01-Jan-2001/.exec(f[0]!);
  expect(m).not.toBeNull();
  // Saved today, although its internal date is in 2001.
  expect(m![1]!.startsWith(day(new Date()).padStart(11, '0'))).toBe(true);
  const today = day(new Date());
  expect(await c.command('q1', `SEARCH SAVEDON ${today}`)).toEqual(['* SEARCH 1', 'q1 OK Search completed.']);
  expect(await c.command('q2', 'SEARCH SAVEDBEFORE 1-Jan-2020')).toEqual(['* SEARCH', 'q2 OK Search completed.']);
  expect(await c.command('q3', 'SEARCH SAVEDSINCE 1-Jan-2020 BEFORE 1-Jan-2002')).toEqual(['* SEARCH 1', 'q3 OK Search completed.']);
  expect(await c.command('q4', 'SEARCH SAVEDATESUPPORTED')).toEqual(['* SEARCH 1', 'q4 OK Search completed.']);
  c.close();
});
