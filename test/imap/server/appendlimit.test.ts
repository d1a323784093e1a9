// APPENDLIMIT (RFC 7889): the capability and STATUS APPENDLIMIT carry mail_max_message_size, and
// an APPEND over it is refused before its literal is sent.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.mail_max_message_size = 1000;
  });
});
afterAll(async () => t.stop());

test('APPENDLIMIT=n, STATUS (APPENDLIMIT), LIST-STATUS, and the limit enforced', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/ APPENDLIMIT=1000[ \]]/);
  expect(await c.command('s', 'STATUS INBOX (MESSAGES APPENDLIMIT)')).toEqual(['* STATUS INBOX (MESSAGES 0 APPENDLIMIT 1000)', 's OK Status completed.']);
  const list = await c.command('ls', 'LIST "" INBOX RETURN (STATUS (APPENDLIMIT))');
  expect(list).toContain('* STATUS INBOX (APPENDLIMIT 1000)');
  c.send('a APPEND INBOX {1001}\r\n');
  expect((await c.readLine())).toMatch(/^a NO \[TOOBIG\]/);
  c.send('b APPEND INBOX {10}\r\n');
  expect(await c.readLine()).toBe('+ OK');
  c.send('Subject: x\r\n');
  expect((await c.until((l) => l.startsWith('b '))).pop()).toMatch(/^b OK/);
  c.close();
});
