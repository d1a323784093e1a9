// A large APPEND is stored as a body file in the user's home (written and synced before the
// commit), reads back byte-exact, partially too, and a refused APPEND leaves no file behind.
// On PostgreSQL the body is chunked in the database: the same FETCHes, and no file in the home.
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { RawClient, startTestServer, type TestServer } from './helpers.js';
import { waitUntil } from '../../poll.js';
import { testBackend } from '../../backend.js';

/** Body files of one stored large message: SQLite writes one beside mail.db, PostgreSQL none. */
const FILES_PER_BODY = testBackend === 'sqlite' ? 1 : 0;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

function bodyFiles(): string[] {
  const dir = path.join(t.dataDir, 'home', '', 'alice', 'bodies');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

test('APPEND of 200 KB: a body file, byte-exact FETCH, partial FETCH; a failed APPEND leaves none', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK /);
  const line = 'The quick brown fox jumps over the lazy dog 0123456789 ~!@#$%^&*()\r\n';
  const body = `Subject: big\r\nFrom: a@example.org\r\n\r\n${line.repeat(Math.ceil(200_000 / line.length))}`;
  const size = Buffer.byteLength(body);
  c.send(`a APPEND INBOX {${size}+}\r\n${body}\r\n`);
  expect((await c.until((l) => l.startsWith('a '))).pop()).toMatch(/^a OK \[APPENDUID \d+ 1\]/);
  expect(bodyFiles()).toHaveLength(FILES_PER_BODY);

  await c.command('s', 'SELECT INBOX');
  const offset = 150_000;
  const partial = await c.command('f', `FETCH 1 (RFC822.SIZE BODY.PEEK[]<${offset}.100>)`);
  expect(partial[0]).toBe(`* 1 FETCH (RFC822.SIZE ${size} BODY[]<${offset}> {100}`);
  // The literal's 100 bytes, then the closing parenthesis on the same line.
  expect(partial.slice(1, -1).join('\r\n')).toBe(body.slice(offset, offset + 100) + ')');

  // TRYCREATE: the staged file is removed again.
  c.send(`b APPEND Nowhere {${size}+}\r\n${body}\r\n`);
  expect((await c.until((l) => l.startsWith('b '))).pop()).toMatch(/^b NO \[TRYCREATE\]/);
  expect(bodyFiles()).toHaveLength(FILES_PER_BODY);

  // Expunging the message removes its file.
  await c.command('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  await c.command('e', 'EXPUNGE');
  // The unlink follows the durable commit.
  await waitUntil('the body file to go', () => bodyFiles().length === 0);
  c.close();
});
