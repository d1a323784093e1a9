// URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524) over raw sockets, with the texts Dovecot 2.3.19
// gives with imap_urlauth_host set (test/fixtures/urlauth, recorded against it on loopback).
import { readFileSync } from 'node:fs';
import { hashPassword } from '../../../src/auth/index.js';
import { internalToken } from '../../../src/imap/commands/urlauth.js';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

const PORT = 14393;
const HOST = `imap://alice@localhost:${PORT}`;
const MSG =
  'From: a@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
  '--b\r\nContent-Type: text/plain\r\n\r\nhello world\r\n' +
  '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--b--\r\n';

let t: TestServer;
let off: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.imap_urlauth_host = 'localhost';
    s.imap_urlauth_port = PORT;
    s.imap_urlauth_submit_user = 'bob';
  });
  await t.ctx.serverDb.addUser({ username: 'carol', password: await hashPassword('pw', 'PLAIN') });
  off = await startTestServer();
});
afterAll(async () => {
  await t.stop();
  await off.stop();
});

async function login(server: TestServer, user = 'alice'): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  await c.command('l', `LOGIN ${user} pw`);
  return c;
}

let uidValidity = 0;
beforeAll(async () => {
  const c = await login(t);
  c.send(`ap APPEND INBOX {${MSG.length}+}\r\n${MSG}\r\n`);
  const r = (await c.until((l) => l.startsWith('ap '))).pop()!;
  uidValidity = Number(/APPENDUID (\d+) 1\]/.exec(r)![1]);
  c.close();
});

/** GENURLAUTH for one rump URL; returns the URL with its token. */
async function gen(c: RawClient, rump: string): Promise<string> {
  const r = await c.command('g', `GENURLAUTH "${rump}" INTERNAL`);
  expect(r.pop()).toBe('g OK GENURLAUTH completed.');
  const url = r[0]!.slice('* GENURLAUTH '.length);
  expect(url).toMatch(new RegExp(`^${rump.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:internal:01[0-9a-f]{40}$`));
  return url;
}

test('off by default: no capability, and the commands answer as Dovecot without imap_urlauth_host', async () => {
  const c = await RawClient.connect(off.port);
  const caps = (await c.command('l', 'LOGIN alice pw')).pop()!;
  expect(caps).not.toMatch(/URLAUTH/);
  expect((await c.command('g', `GENURLAUTH "${HOST}/INBOX/;UID=1;urlauth=anonymous" INTERNAL`)).pop()).toBe('g BAD Error in IMAP command GENURLAUTH: URLAUTH disabled.');
  expect((await c.command('r', 'RESETKEY')).pop()).toBe('r BAD Error in IMAP command RESETKEY: URLAUTH disabled.');
  expect((await c.command('u', 'URLFETCH')).pop()).toBe('u BAD Error in IMAP command URLFETCH: URLAUTH disabled.');
  c.close();
});

test('URLAUTH and URLAUTH=BINARY are advertised after login when imap_urlauth_host is set', async () => {
  const c = await RawClient.connect(t.port);
  expect((await c.command('c0', 'CAPABILITY'))[0]).not.toMatch(/URLAUTH/);
  const caps = (await c.command('l', 'LOGIN alice pw')).pop()!;
  expect(caps).toMatch(/ NOTIFY .* URLAUTH URLAUTH=BINARY METADATA\]/);
  c.close();
});

test('RESETKEY, GENURLAUTH, then URLFETCH from another session; a reset key revokes the URL', async () => {
  const a = await login(t);
  const b = await login(t);
  expect((await a.command('r1', 'RESETKEY INBOX')).pop()).toBe('r1 OK [URLMECH INTERNAL] Key removed.');
  expect((await a.command('r2', 'RESETKEY INBOX INTERNAL')).pop()).toBe('r2 OK [URLMECH INTERNAL] Key removed.');
  const rump = `${HOST}/INBOX;UIDVALIDITY=${uidValidity}/;UID=1;urlauth=user+alice`;
  const url = await gen(a, rump);

  const f = await b.command('f1', `URLFETCH "${url}"`);
  expect(f.pop()).toBe('f1 OK URLFETCH completed.');
  expect(f.join('\r\n')).toBe(`* URLFETCH ${url} {${MSG.length}}\r\n${MSG}`);

  // A token that does not match, in the same command: NIL with Dovecot's reason, not an error.
  const wrong = `${url.slice(0, -4)}0000`;
  const f2 = await b.command('f2', `URLFETCH "${url}" "${wrong}"`);
  expect(f2.slice(-3)).toEqual([
    `* URLFETCH ${wrong} NIL`,
    `* NO Failed to fetch URLAUTH "${wrong}": URLAUTH verification failed.`,
    'f2 OK URLFETCH completed.',
  ]);

  // RESETKEY revokes every URL of the mailbox; a new GENURLAUTH makes a new key.
  await a.command('r3', 'RESETKEY INBOX');
  expect((await b.command('f3', `URLFETCH "${url}"`)).slice(0, 2)).toEqual([
    `* URLFETCH ${url} NIL`,
    `* NO Failed to fetch URLAUTH "${url}": URLAUTH verification failed.`,
  ]);
  const url2 = await gen(a, rump);
  expect(url2).not.toBe(url);
  expect((await b.command('f4', `URLFETCH "${url2}"`))[0]).toBe(`* URLFETCH ${url2} {${MSG.length}}`);
  // RESETKEY without a mailbox removes all keys.
  expect((await a.command('r4', 'RESETKEY')).pop()).toBe('r4 OK All keys removed.');
  expect((await b.command('f5', `URLFETCH "${url2}"`))[0]).toBe(`* URLFETCH ${url2} NIL`);
  await gen(a, rump);
  // The key is not reachable through METADATA (Dovecot keeps it where SETMETADATA could overwrite it).
  expect(await a.command('m', 'GETMETADATA INBOX /private/vendor/vendor.dovecot/pvt/imap-urlauth')).toEqual([
    '* METADATA INBOX (/private/vendor/vendor.dovecot/pvt/imap-urlauth NIL)',
    'm OK Getmetadata completed.',
  ]);
  expect((await a.command('m', 'GETMETADATA INBOX (DEPTH infinity) /private')).join('\n')).not.toMatch(/imap-urlauth/);
  expect((await a.command('m', 'SETMETADATA INBOX (/private/vendor/vendor.dovecot/pvt/imap-urlauth "00")')).pop()).toBe('m NO [CANNOT] Internal mailbox attributes cannot be accessed.');
  expect((await b.command('f6', `URLFETCH "${await gen(a, rump)}"`))[0]).toMatch(/\{245\}$/);
  a.close();
  b.close();
});

test('access identifiers and expiry', async () => {
  const a = await login(t);
  const sect = (access: string) => `${HOST}/INBOX/;UID=1/;SECTION=1;urlauth=${access}`;
  for (const access of ['authuser', 'anonymous', 'user+bob', 'user+ALICE']) {
    const url = await gen(a, sect(access));
    expect(await a.command('f', `URLFETCH ${url}`)).toEqual([`* URLFETCH ${url} {11}`, 'hello world', 'f OK URLFETCH completed.']);
  }
  // submit+ is for the submit user of Dovecot's imap-urlauth service, not the imap session.
  const submit = await gen(a, sect('submit+alice'));
  expect((await a.command('f', `URLFETCH ${submit}`))[1]).toBe(`* NO Failed to fetch URLAUTH "${submit}": No 'submit+alice' access allowed for user alice.`);
  const future = await gen(a, `${HOST}/INBOX/;UID=1/;SECTION=1;expire=2099-01-01T00:00:00Z;urlauth=user+alice`);
  expect((await a.command('f', `URLFETCH ${future}`))[1]).toBe('hello world');
  // An expired URL: GENURLAUTH refuses it; URLFETCH answers NIL.
  const past = `${HOST}/INBOX/;UID=1;expire=2000-01-01T00:00:00Z;urlauth=anonymous`;
  expect((await a.command('g', `GENURLAUTH "${past}" INTERNAL`)).pop()).toBe('g BAD Error in IMAP command GENURLAUTH: URLAUTH has already expired.');
  const expired = `${past}:internal:01${'0'.repeat(40)}`;
  expect((await a.command('f', `URLFETCH "${expired}"`)).slice(0, 2)).toEqual([
    `* URLFETCH ${expired} NIL`,
    `* NO Failed to fetch URLAUTH "${expired}": URLAUTH has expired.`,
  ]);
  a.close();
});

test("another user fetches alice's URLs as the access identifier allows (Dovecot's imap-urlauth worker)", async () => {
  const a = await login(t);
  const b = await login(t, 'bob');
  const sect = (access: string) => `${HOST}/INBOX/;UID=1/;SECTION=1;urlauth=${access}`;
  for (const access of ['user+bob', 'authuser', 'anonymous', 'submit+alice']) {
    const url = await gen(a, sect(access));
    expect(await b.command('f', `URLFETCH ${url}`)).toEqual([`* URLFETCH ${url} {11}`, 'hello world', 'f OK URLFETCH completed.']);
  }
  // user+alice is alice's alone; submit+ only for imap_urlauth_submit_user (bob here).
  const mine = await gen(a, sect('user+alice'));
  expect((await b.command('f', `URLFETCH ${mine}`))[1]).toBe(`* NO Failed to fetch URLAUTH "${mine}": No 'user+alice' access allowed for user bob.`);
  const c = await login(t, 'carol');
  const submit = await gen(a, sect('submit+alice'));
  expect((await c.command('f', `URLFETCH ${submit}`))[1]).toBe(`* NO Failed to fetch URLAUTH "${submit}": No 'submit+alice' access allowed for user carol.`);
  // A revoked key, and an owner that does not exist: NIL.
  const anon = await gen(a, sect('anonymous'));
  await a.command('r', 'RESETKEY INBOX');
  expect((await b.command('f', `URLFETCH ${anon}`))[1]).toBe(`* NO Failed to fetch URLAUTH "${anon}": URLAUTH verification failed.`);
  const nobody = `imap://nobody@localhost:${PORT}/INBOX/;UID=1;urlauth=anonymous:internal:01${'0'.repeat(40)}`;
  expect((await b.command('f', `URLFETCH "${nobody}"`)).slice(0, 2)).toEqual([
    `* URLFETCH ${nobody} NIL`,
    `* NO Failed to fetch URLAUTH "${nobody}": URLAUTH verification failed.`,
  ]);
  // bob's session still works on his own mailboxes afterwards.
  expect((await b.command('s', 'SELECT INBOX')).pop()).toMatch(/^s OK \[READ-WRITE\]/);
  a.close();
  b.close();
  c.close();
});

test('URLAUTH=BINARY: URLFETCH (url BODYPARTSTRUCTURE BINARY), BODY and the plain form', async () => {
  const a = await login(t);
  const text = await gen(a, `${HOST}/INBOX/;UID=1/;SECTION=1;urlauth=authuser`);
  const bin = await gen(a, `${HOST}/INBOX/;UID=1/;SECTION=2;urlauth=anonymous`);
  const r = await a.command('f', `URLFETCH ${text} (${bin} BODYPARTSTRUCTURE BINARY)`);
  expect(r).toEqual([
    `* URLFETCH ${text} {11}`,
    'hello world',
    `* URLFETCH ${bin} (BODYPARTSTRUCTURE ("application" "octet-stream" NIL NIL NIL "base64" 5 NIL NIL NIL NIL) BINARY ~{5}`,
    '\x00\x01\x02\x03\x04)', // the decoded bytes, NULs included

    'f OK URLFETCH completed.',
  ]);
  expect(await a.command('f', `URLFETCH (${bin} BODY)`)).toEqual([`* URLFETCH ${bin} (BODY {8}`, 'AAECAwQ=)', 'f OK URLFETCH completed.']);
  expect(await a.command('f', `URLFETCH (${bin} BODYPARTSTRUCTURE)`)).toEqual([
    `* URLFETCH ${bin} (BODYPARTSTRUCTURE ("application" "octet-stream" NIL NIL NIL "base64" 8 NIL NIL NIL NIL))`,
    'f OK URLFETCH completed.',
  ]);
  expect((await a.command('f', `URLFETCH (${bin} BODY BINARY)`)).pop()).toBe('f BAD Error in IMAP command URLFETCH: URL cannot have both BODY and BINARY fetch parameters.');
  expect((await a.command('f', `URLFETCH (${bin} XFOO)`)).pop()).toBe('f BAD Error in IMAP command URLFETCH: Unknown URL fetch parameter: XFOO.');
  a.close();
});

test('GENURLAUTH, RESETKEY and URLFETCH errors, as Dovecot words them', async () => {
  const a = await login(t);
  const rump = `${HOST}/INBOX/;UID=1;urlauth=anonymous`;
  const bad = async (args: string) => (await a.command('g', `GENURLAUTH ${args}`)).pop()!.replace('g BAD Error in IMAP command GENURLAUTH: ', '');
  expect(await bad(`"${rump}" XFOO`)).toBe('Unsupported URLAUTH mechanism: XFOO.');
  expect(await bad(`"${HOST}/INBOX/;UID=1" INTERNAL`)).toBe('Invalid URL: Must be an URLAUTH rump URL.');
  expect(await bad(`"imap://bob@localhost:${PORT}/INBOX/;UID=1;urlauth=user+alice" INTERNAL`)).toBe('Not permitted to generate URLAUTH for user bob.');
  expect(await bad(`"imap://alice@otherhost:${PORT}/INBOX/;UID=1;urlauth=user+alice" INTERNAL`)).toBe('Invalid URL: Inappropriate host name.');
  expect(await bad(`"imap://alice@localhost/INBOX/;UID=1;urlauth=anonymous" INTERNAL`)).toBe('Invalid URL: Inappropriate server port.');
  expect(await bad(`"${HOST}/INBOX/;UID=99;urlauth=anonymous" INTERNAL`)).toBe('Invalid URL: Message not found.');
  expect(await bad(`"${HOST}/nosuch/;UID=1;urlauth=anonymous" INTERNAL`)).toBe("Invalid URL: Mailbox doesn't exist: nosuch.");
  expect(await bad(`"${HOST}/INBOX;UIDVALIDITY=5/;UID=1;urlauth=anonymous" INTERNAL`)).toBe('Invalid URL: Invalid UIDVALIDITY.');
  expect(await bad(`"/INBOX/;UID=1;urlauth=anonymous" INTERNAL`)).toBe('Invalid URL: Relative URL not allowed.');
  expect(await bad(`"${rump}:internal:0123" INTERNAL`)).toBe('Invalid URL: Too short URLAUTH token.');
  expect(await bad(`"${rump}"`)).toBe('Invalid arguments.');
  expect(await a.command('g', 'GENURLAUTH')).toEqual(['* GENURLAUTH', 'g OK GENURLAUTH completed.']);
  // Two URLs in one command.
  const two = await a.command('g', `GENURLAUTH "${rump}" INTERNAL "${HOST}/INBOX/;UID=1/;SECTION=1;urlauth=authuser" INTERNAL`);
  expect(two[0]).toMatch(/^\* GENURLAUTH \S+:internal:01[0-9a-f]{40} \S+;urlauth=authuser:internal:01[0-9a-f]{40}$/);

  expect((await a.command('r', 'RESETKEY INBOX XFOO')).pop()).toBe('r NO Unsupported URLAUTH mechanism.');
  expect((await a.command('r', 'RESETKEY nosuch')).pop()).toBe("r NO [NONEXISTENT] Mailbox doesn't exist: nosuch.");
  expect((await a.command('r', 'RESETKEY INBOX (X)')).pop()).toBe('r BAD Error in IMAP command RESETKEY: Invalid arguments.');

  expect((await a.command('u', 'URLFETCH')).pop()).toBe('u BAD Error in IMAP command URLFETCH: Invalid arguments.');
  const noAuth = `${HOST}/INBOX/;UID=1`;
  expect((await a.command('u', `URLFETCH "${noAuth}"`)).slice(0, 2)).toEqual([
    `* URLFETCH ${noAuth} NIL`,
    `* NO Failed to fetch URLAUTH "${noAuth}": Invalid URL: Must be a full URLAUTH URL.`,
  ]);
  const short = `${rump}:internal:0123`;
  expect((await a.command('u', `URLFETCH "${short}"`))[1]).toBe(`* NO Failed to fetch URLAUTH "${short}": Too short URLAUTH token.`);
  // A URLAUTH URL in CATENATE: Dovecot 2.3.19 takes relative URLs only there.
  const url = await gen(a, rump);
  expect((await a.command('c', `APPEND INBOX CATENATE (URL "${url}")`)).pop()).toBe(`c NO [BADURL ${url}] Invalid IMAP URL: Relative URL required.`);
  a.close();
});

test("the owner's mail user is created with service imap-urlauth; a failing created hook gives NIL", async () => {
  const seen: string[] = [];
  let fail = false;
  const remove = t.ctx.mailUsers.addHooks('urlauth-test', {
    async created(user) {
      seen.push(`${user.username}/${user.service}`);
      if (fail && user.service === 'imap-urlauth') throw new Error('script failed');
    },
  });
  try {
    const a = await login(t);
    const b = await login(t, 'bob');
    const url = await gen(a, `${HOST}/INBOX/;UID=1/;SECTION=1;urlauth=user+bob`);
    expect((await b.command('f', `URLFETCH ${url}`))[1]).toBe('hello world');
    expect(seen).toEqual(['alice/imap', 'bob/imap', 'alice/imap-urlauth']);
    fail = true;
    expect((await b.command('f', `URLFETCH ${url}`)).slice(1)).toEqual([
      `* NO Failed to fetch URLAUTH "${url}": Internal server error.`,
      'f OK URLFETCH completed.',
    ]);
    a.close();
    b.close();
  } finally {
    remove();
  }
});

test("the INTERNAL token is Dovecot's: Dovecot's recorded key gives the tokens Dovecot generated", () => {
  const { steps } = JSON.parse(readFileSync(new URL('../../fixtures/urlauth/dovecot-answers.json', import.meta.url), 'utf8')) as {
    steps: Array<{ command: string; answer: string[] }>;
  };
  const keyStep = steps.find((s) => s.command === 'GETMETADATA INBOX /private/vendor/vendor.dovecot/imap-urlauth')!;
  const key = Buffer.from(/\{128\}([0-9a-f]{128})\)/.exec(keyStep.answer[0]!)![1]!, 'hex');
  // The key was made by the first GENURLAUTH after the last RESETKEY that removed keys.
  const lastReset = steps.map((s) => s.command.startsWith('RESETKEY') && / OK /.test(s.answer.at(-1)!)).lastIndexOf(true);
  const generated = steps.slice(lastReset).filter((s) => s.command.startsWith('GENURLAUTH') && s.answer[0]!.startsWith('* GENURLAUTH '));
  expect(generated.length).toBeGreaterThan(5);
  for (const s of generated) {
    for (const url of s.answer[0]!.slice('* GENURLAUTH '.length).split(' ')) {
      const [rump, token] = url.split(':internal:');
      expect(internalToken(rump!, key).toString('hex')).toBe(token);
    }
  }
});
