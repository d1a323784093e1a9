// OBJECTID (RFC 8474): MAILBOXID in CREATE, SELECT and STATUS (kept across RENAME), EMAILID shared by
// copies and searchable, THREADID NIL (Roost keeps no thread ids).
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

test('MAILBOXID, EMAILID and THREADID over a socket', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ OBJECTID[ \]]/);
  const created = (await c.command('c', 'CREATE objects')).pop()!;
  const id = /^c OK \[MAILBOXID \(([A-Za-z0-9_-]+)\)\] Create completed\.$/.exec(created)![1]!;
  const other = /MAILBOXID \(([^)]+)\)/.exec((await c.command('c2', 'CREATE other')).pop()!)![1];
  expect(other).not.toBe(id);
  expect(await c.command('r', 'RENAME objects renamed')).toEqual(['r OK Rename completed.']);
  expect(await c.command('s', 'STATUS renamed (MESSAGES MAILBOXID)')).toEqual([`* STATUS renamed (MESSAGES 0 MAILBOXID (${id}))`, 's OK Status completed.']);
  const body = 'Subject: obj\r\n\r\nobj\r\n';
  c.send(`a APPEND renamed {${body.length}+}\r\n${body}\r\n`);
  await c.until((l) => l.startsWith('a '));
  expect(await c.command('sel', 'SELECT renamed')).toContain(`* OK [MAILBOXID (${id})] Ok`);
  await c.command('cp', 'COPY 1 other');
  const fetched = await c.command('f', 'FETCH 1 (EMAILID THREADID)');
  const emailId = /^\* 1 FETCH \(EMAILID \(([A-Za-z0-9_-]+)\) THREADID NIL\)$/.exec(fetched[0]!)![1]!;
  expect(await c.command('q1', `SEARCH EMAILID ${emailId}`)).toEqual(['* SEARCH 1', 'q1 OK Search completed.']);
  expect(await c.command('q2', 'SEARCH EMAILID nothing')).toEqual(['* SEARCH', 'q2 OK Search completed.']);
  expect(await c.command('q3', `SEARCH THREADID ${emailId}`)).toEqual(['* SEARCH', 'q3 OK Search completed.']);
  await c.command('sel2', 'EXAMINE other');
  expect((await c.command('f2', 'FETCH 1 EMAILID'))[0]).toBe(`* 1 FETCH (EMAILID (${emailId}))`);
  c.close();
});
