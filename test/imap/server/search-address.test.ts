// SEARCH FROM/TO/CC/BCC match the address list rewritten in one standard form, as Dovecot 2.3.19
// does (index-search.c + message_address_write). The messages are test/fixtures/search-addresses
// (the first six are Dovecot imaptest's search-addresses.mbox); every expected answer below is
// what a Dovecot 2.3.19 on loopback answered for the same messages and the same command.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/search-addresses');

let t: TestServer;
let c: RawClient;
beforeAll(async () => {
  t = await startTestServer();
  c = await RawClient.connect(t.port);
  await c.command('l', 'LOGIN alice pw');
  await c.command('c', 'CREATE addr');
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.eml')).sort()) {
    const body = readFileSync(path.join(FIXTURES, file));
    c.send(`a APPEND addr {${body.length}+}\r\n`);
    c.socket.write(body);
    c.send('\r\n');
    expect((await c.until((l) => l.startsWith('a '))).pop()).toMatch(/^a OK/);
  }
  await c.command('s', 'SELECT addr');
});
afterAll(async () => {
  c.close();
  await t.stop();
});

async function search(criteria: string | Buffer): Promise<string> {
  if (typeof criteria === 'string') {
    const lines = await c.command('q', `SEARCH ${criteria}`);
    expect(lines.pop()).toMatch(/^q OK /);
    return lines.find((l) => l.startsWith('* SEARCH'))!;
  }
  // A UTF-8 search string goes as a literal.
  c.send(`q SEARCH CHARSET UTF-8 FROM {${criteria.length}+}\r\n`);
  c.socket.write(criteria);
  c.send('\r\n');
  const lines = await c.until((l) => l.startsWith('q '));
  expect(lines.pop()).toMatch(/^q OK /);
  return lines.find((l) => l.startsWith('* SEARCH'))!;
}

const DOVECOT_ANSWERS: Array<[string, string]> = [
  // imaptest search-addresses: the same address written in four ways.
  ['FROM user-from@domain.org', '* SEARCH 1 2 3 4 8 9 11'],
  ['TO user-to@domain.org', '* SEARCH 1 2 3 4'],
  ['CC user-cc@domain.org', '* SEARCH 1 2 3 4 5'],
  ['FROM USER-FROM@DOMAIN.ORG', '* SEARCH 1 2 3 4 8 9 11'],
  ['FROM realfrom', '* SEARCH 2 4'],
  ['TO realto', '* SEARCH 2 4'],
  ['FROM ser-fro', '* SEARCH 1 2 3 4 5 8 9 11'],
  ['FROM ealfro', '* SEARCH 2 4'],
  ['FROM user-from1', '* SEARCH 5'],
  // Groups: the group name and its members.
  ['TO groupname', '* SEARCH 6'],
  ['TO groupname2', '* SEARCH 6'],
  ['TO groupuser1', '* SEARCH 6'],
  ['TO groupuser3', '* SEARCH 6'],
  ['TO groupuser4', '* SEARCH'],
  ['TO "groupname: <groupuser1@domain.org>, <groupuser2@domain.org>;, groupname2: <groupuser3@domain.org>;"', '* SEARCH 6'],
  ['TO "groupname: groupuser1"', '* SEARCH'],
  ['TO "undisclosed-recipients:;"', '* SEARCH 7'],
  // The standard form: angle brackets always, quoted names, routes kept, comments dropped.
  ['FROM "<user-from@domain.org>"', '* SEARCH 1 2 3 4 11'],
  ['FROM "realfrom <user-from@domain.org>"', '* SEARCH 2 4'],
  ['FROM "user-from1@domain.org>, <user"', '* SEARCH 5'],
  ['FROM "user-from1@domain.org, user"', '* SEARCH'],
  ['FROM comment', '* SEARCH'],
  ['FROM "(realfrom)"', '* SEARCH'],
  ['FROM route1', '* SEARCH 8'],
  ['FROM "\\"User, From\\" <@route1.example,@route2.example:USER-FROM@Domain.ORG>"', '* SEARCH 8'],
  ['FROM "\\"User"', '* SEARCH 8 9'],
  ['FROM "User From"', '* SEARCH'],
  ['FROM "foo bar"', '* SEARCH 10'],
  ['FROM "\\"Foo Bar\\" <foo@bar.org>"', '* SEARCH 10'],
  ['FROM "Foo Bar <foo@bar.org>"', '* SEARCH'],
  ['TO "\\"quoted\\\\\\"name\\" <q@x.org>"', '* SEARCH 10'],
  ['FROM "<no-at-sign@MISSING_DOMAIN>"', '* SEARCH 12'],
  ['FROM "@domain.org"', '* SEARCH 1 2 3 4 5 7 8 9 11'],
  // Encoded words are decoded after the rewrite.
  ['FROM "=?utf-8?q?"', '* SEARCH'],
  // HEADER FROM matches the field as written, not the rewrite.
  ['HEADER FROM "<user-from@domain.org>"', '* SEARCH 2'],
  ['HEADER FROM "(realfrom)"', '* SEARCH 4'],
  ['HEADER FROM ""', '* SEARCH 1 2 3 4 5 7 8 9 10 11 12'],
];

test.each(DOVECOT_ANSWERS)('SEARCH %s answers as Dovecot', async (criteria, expected) => {
  expect(await search(criteria)).toBe(expected);
});

test('an encoded-word display name is found in UTF-8, in the rewritten form', async () => {
  expect(await search(Buffer.from('jörg'))).toBe('* SEARCH 7');
  expect(await search(Buffer.from('jörg real <joerg@domain.org>'))).toBe('* SEARCH 7');
  expect(await search(Buffer.from('"jörg real" <joerg@domain.org>'))).toBe('* SEARCH');
});
