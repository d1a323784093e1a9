// A command's responses leave in one write, as Dovecot corks its output while a command runs: a
// SELECT's untagged lines and its tagged OK are one writev (one TCP segment), not a write(2) per
// line. Counted on the server's side of the connection, at the socket's _write/_writev.
import { serverWrites } from '../../socket-writes.js';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let srv: TestServer;
const clients: RawClient[] = [];

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  await srv.stop();
});

test("a SELECT's untagged responses and its tagged OK leave in one write", async () => {
  const c = await RawClient.connect(srv.port);
  clients.push(c);
  await c.command('a', 'LOGIN alice pw');
  const r = await serverWrites(srv.port, () => c.command('s', 'SELECT INBOX'));
  expect(r.bytes).toMatch(/^\* FLAGS .*\r\n\* OK \[PERMANENTFLAGS .*\* 0 EXISTS\r\n.*s OK \[READ-WRITE\] Select completed/s);
  // With PostgreSQL too: the responses are written once the view is read, with no query in between.
  expect(r.writes).toBe(1);
});

test('a command answered at once (CAPABILITY before login) is one write too', async () => {
  const c = await RawClient.connect(srv.port);
  clients.push(c);
  const r = await serverWrites(srv.port, () => c.command('c', 'CAPABILITY'));
  expect(r.bytes).toMatch(/^\* CAPABILITY .*\r\nc OK Capability completed\.\r\n$/);
  expect(r.writes).toBe(1);
});

test('commands pipelined in one packet are answered in order, nothing held back', async () => {
  const c = await RawClient.connect(srv.port);
  clients.push(c);
  await c.command('a', 'LOGIN alice pw');
  const r = await serverWrites(srv.port, async () => {
    c.socket.write('n1 NOOP\r\nn2 NOOP\r\n');
    expect(await c.readLine()).toMatch(/^n1 OK NOOP completed/);
    expect(await c.readLine()).toMatch(/^n2 OK NOOP completed/);
  });
  expect(r.bytes).toMatch(/^n1 OK .*\r\nn2 OK .*\r\n$/);
});
