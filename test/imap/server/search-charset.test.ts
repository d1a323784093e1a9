// The CHARSET of SEARCH, SORT and THREAD (RFC 3501 §6.4.4, RFC 5256 §3): search strings in
// ISO-8859-1, windows-1252, KOI8-R, ... are converted before matching; an unknown charset is
// `NO [BADCHARSET]`, bytes invalid in the charset are BAD. Every answer is compared with Dovecot
// 2.3.19's for the same messages and commands (test/fixtures/search-charset).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/search-charset');

interface Recording {
  messages: string[];
  answers: Array<{ command: string; untagged: string[]; status: string }>;
}

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

/** Sends latin1 text as the bytes it stands for and collects the reply. */
async function rawCommand(c: RawClient, tag: string, command: string): Promise<string[]> {
  c.socket.write(Buffer.from(`${tag} ${command}\r\n`, 'latin1'));
  return c.until((l) => l.startsWith(`${tag} `));
}

const literal = (data: string) => `{${Buffer.byteLength(data, 'latin1')}+}\r\n${data}`;

test('SEARCH, SORT and THREAD with charsets answer as Dovecot 2.3.19', async () => {
  const recording = JSON.parse(readFileSync(path.join(FIXTURES, 'dovecot-answers.json'), 'utf8')) as Recording;
  const c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE charsettest');
  for (const [i, m] of recording.messages.entries()) expect((await rawCommand(c, `a${i}`, `APPEND charsettest ${literal(m)}`)).pop()).toMatch(/^a\d+ OK/);
  await c.command('s', 'SELECT charsettest');
  const sameTag = (l: string) => l.replace(/\(TAG "[^"]*"\)/, '(TAG "t")');
  const differences: unknown[] = [];
  for (const [i, answer] of recording.answers.entries()) {
    const lines = await rawCommand(c, `q${i}`, answer.command);
    const tagged = lines.pop()!;
    const status = /^\S+ (\S+)( \[[^\]]*\])?/.exec(tagged)!;
    const roost = { untagged: lines.filter((l) => /^\* (SEARCH|SORT|THREAD|ESEARCH)/.test(l)).map(sameTag), status: status[1] + (status[2] ?? '') };
    // Dovecot's BADCHARSET lists no charsets; Roost's lists US-ASCII and UTF-8.
    const dovecot = { untagged: answer.untagged.map(sameTag), status: answer.status.replace('[BADCHARSET]', '[BADCHARSET (US-ASCII UTF-8)]') };
    if (JSON.stringify(roost) !== JSON.stringify(dovecot)) differences.push({ command: answer.command, roost, dovecot, tagged });
  }
  expect(differences).toEqual([]);
  // The texts of the refusals.
  expect(await c.command('x1', 'SEARCH CHARSET X-UNKNOWN ALL')).toEqual(['x1 NO [BADCHARSET (US-ASCII UTF-8)] Unknown charset.']);
  expect(await rawCommand(c, 'x2', 'SEARCH CHARSET UTF-8 SUBJECT "caf\xe9"')).toEqual(['x2 BAD Error in IMAP command SEARCH: Invalid search key.']);
  c.close();
});
