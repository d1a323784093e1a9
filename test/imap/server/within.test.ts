// WITHIN (RFC 5032): SEARCH OLDER / YOUNGER n compare the internal date with now − n seconds.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

test('OLDER and YOUNGER over a socket, with ESEARCH and UID SEARCH', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ WITHIN /);
  await c.command('c', 'CREATE w');
  const old = 'Subject: old\r\n\r\nold\r\n';
  const fresh = 'Subject: new\r\n\r\nnew\r\n';
  c.send(`a1 APPEND w "01-Jan-2001 00:00:00 +0000" {${old.length}+}\r\n${old}\r\n`);
  await c.until((l) => l.startsWith('a1 '));
  c.send(`a2 APPEND w {${fresh.length}+}\r\n${fresh}\r\n`);
  await c.until((l) => l.startsWith('a2 '));
  await c.command('s', 'SELECT w');
  expect(await c.command('o', 'SEARCH OLDER 86400')).toEqual(['* SEARCH 1', 'o OK Search completed.']);
  expect(await c.command('y', 'SEARCH YOUNGER 86400')).toEqual(['* SEARCH 2', 'y OK Search completed.']);
  expect(await c.command('u', 'UID SEARCH RETURN (COUNT) YOUNGER 3600')).toEqual(['* ESEARCH (TAG "u") UID COUNT 1', 'u OK Search completed.']);
  expect(await c.command('b', 'SEARCH OLDER x')).toEqual(['b BAD Error in IMAP command SEARCH: Invalid arguments.']);
  c.close();
});
