// Every SASL mechanism Roost offers, over a real IMAP socket (RFC 3501 §6.2.2, RFC 4959 SASL-IR):
// a successful and a failed exchange each, `*` abort, bad base64, and the pre-login CAPABILITY
// listing exactly the configured AUTH= mechanisms. CRAM-MD5/SCRAM get their credentials from the
// roost passdb (PLAIN passwords, converted) and from a passwd-file with a stored {SCRAM-SHA-256};
// OAUTHBEARER/XOAUTH2 tokens are judged by a Lua passdb (spec §11.3 auth_password_verify).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { hashPassword } from '../../src/auth/index.js';
import { PASSWORD, re, startRoost, type RawImapClient, type Roost } from '../e2e/harness.js';

const MECHS = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'OAUTHBEARER', 'XOAUTH2'];

const OAUTH_LUA = String.raw`
function auth_passdb_lookup(req)
  return dovecot.auth.PASSDB_RESULT_USER_UNKNOWN, ""
end
function auth_password_verify(req, token)
  if req.user == "alice" and token == "good-token" then return dovecot.auth.PASSDB_RESULT_OK, "" end
  return dovecot.auth.PASSDB_RESULT_PASSWORD_MISMATCH, ""
end
`;

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

let roost: Roost;

beforeAll(async () => {
  const scram = await hashPassword('carolpw', 'SCRAM-SHA-256');
  roost = await startRoost({
    users: [{ username: 'alice' }],
    files: { 'oauth.lua': OAUTH_LUA, users: `carol:${scram}::::::\n` },
    config: [
      `auth_mechanisms = ${MECHS.map((m) => m.toLowerCase()).join(' ')}`,
      'passdb {',
      '  driver = passwd-file',
      '  args = {DIR}/users',
      '}',
      'passdb {',
      '  driver = lua',
      '  args = file={DIR}/oauth.lua',
      '}',
      'userdb {',
      '  driver = passwd-file',
      '  args = {DIR}/users',
      '}',
    ].join('\n'),
  });
});
afterAll(() => roost?.stop());

/** Failed logins from 127.0.0.1 raise its penalty; each test starts without one. */
const clearPenalty = () => roost.ctx.auth.penalty.success('127.0.0.1');
afterEach(clearPenalty);

/**
 * Runs `AUTHENTICATE` with an optional SASL-IR; `respond` answers each `+ ` challenge (decoded)
 * with a raw line. Returns the decoded challenges and the tagged reply.
 */
async function authenticate(
  c: RawImapClient,
  tag: string,
  mech: string,
  ir: string | null,
  respond: (challenge: Buffer, n: number) => string,
): Promise<{ challenges: Buffer[]; tagged: string; lines: string[] }> {
  c.send(`${tag} AUTHENTICATE ${mech}${ir === null ? '' : ` ${ir}`}\r\n`);
  const challenges: Buffer[] = [];
  const lines: string[] = [];
  for (;;) {
    const line = await c.readLine();
    lines.push(line);
    if (line.startsWith(`${tag} `)) return { challenges, tagged: line, lines };
    if (line === '+' || line.startsWith('+ ')) {
      const ch = Buffer.from(line.slice(2), 'base64');
      challenges.push(ch);
      c.send(`${respond(ch, challenges.length - 1)}\r\n`);
    }
  }
}

/** The login log line of the last login with this method. */
const loginLine = (user: string, method: string) =>
  roost.waitForLine(new RegExp(`^imap-login: Info: Login: user=<${re(user)}>, method=${re(method)}, rip=127\\.0\\.0\\.1, `));

const OK_LOGIN = /^[a-z0-9]+ OK \[CAPABILITY IMAP4rev1 .*\] Logged in$/;
const FAILED = (tag: string) => `${tag} NO [AUTHENTICATIONFAILED] Authentication failed.`;

// ---- client sides of CRAM-MD5 and SCRAM ------------------------------------------------------

function cramResponse(user: string, password: string, challenge: Buffer): string {
  return b64(`${user} ${createHmac('md5', password).update(challenge).digest('hex')}`);
}

class ScramClient {
  readonly nonce = randomBytes(12).toString('base64');
  private clientFirstBare: string;
  private serverSignature = '';
  constructor(
    private readonly hash: 'sha1' | 'sha256',
    user: string,
    private readonly password: string,
    private readonly authzid = '',
  ) {
    this.clientFirstBare = `n=${user},r=${this.nonce}`;
  }
  get gs2(): string {
    return `n,${this.authzid ? `a=${this.authzid}` : ''},`;
  }
  first(): string {
    return b64(this.gs2 + this.clientFirstBare);
  }
  final(serverFirstBuf: Buffer): string {
    const serverFirst = serverFirstBuf.toString('utf8');
    const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
    expect(attrs.r!.startsWith(this.nonce)).toBe(true);
    const len = this.hash === 'sha1' ? 20 : 32;
    const salted = pbkdf2Sync(this.password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), len, this.hash);
    const clientKey = createHmac(this.hash, salted).update('Client Key').digest();
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=${b64(this.gs2)},r=${attrs.r}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac(this.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    const serverKey = createHmac(this.hash, salted).update('Server Key').digest();
    this.serverSignature = createHmac(this.hash, serverKey).update(authMessage).digest('base64');
    return b64(`${withoutProof},p=${proof.toString('base64')}`);
  }
  verify(serverFinal: Buffer): boolean {
    return serverFinal.toString('utf8') === `v=${this.serverSignature}`;
  }
}

// ---- tests -------------------------------------------------------------------------------------

test('CAPABILITY before login lists exactly the configured AUTH= mechanisms, in order', async () => {
  const c = await roost.raw();
  const caps = (await c.command('a', 'CAPABILITY'))[0]!.split(' ').slice(2);
  expect(caps.filter((x) => x.startsWith('AUTH='))).toEqual(MECHS.map((m) => `AUTH=${m}`));
  expect(caps).toContain('SASL-IR');
  expect(caps).not.toContain('LOGINDISABLED');
  // The greeting carries the same list.
  expect(c.greeting).toContain(`${MECHS.map((m) => `AUTH=${m}`).join(' ')}]`);
  c.close();
});

describe('PLAIN', () => {
  test('SASL-IR success, then the session is alice\'s', async () => {
    const c = await roost.raw();
    const r = await authenticate(c, 'a', 'PLAIN', b64(`\0alice\0${PASSWORD}`), () => '');
    expect(r.challenges).toEqual([]);
    expect(r.tagged).toMatch(OK_LOGIN);
    await loginLine('alice', 'PLAIN');
    expect(await c.command('b', 'SELECT INBOX')).toContain('b OK [READ-WRITE] Select completed.');
    c.close();
  });

  test('continuation success; wrong password fails; `*` aborts; bad base64', async () => {
    const c = await roost.raw();
    const ok = await authenticate(c, 'a', 'PLAIN', null, () => b64(`\0alice\0${PASSWORD}`));
    expect(ok.challenges).toEqual([Buffer.alloc(0)]);
    expect(ok.lines[0]).toBe('+ ');
    expect(ok.tagged).toMatch(OK_LOGIN);
    c.close();

    const d = await roost.raw();
    expect((await authenticate(d, 'b', 'PLAIN', b64('\0alice\0wrong'), () => '')).tagged).toBe(FAILED('b'));
    clearPenalty();
    expect((await authenticate(d, 'c', 'PLAIN', null, () => '*')).tagged).toBe('c BAD Authentication aborted by client.');
    expect((await authenticate(d, 'd', 'PLAIN', null, () => 'not base64!')).tagged).toBe('d BAD Invalid base64 data in continued response');
    expect((await authenticate(d, 'e', 'PLAIN', 'AGFs!ZQ==', () => '')).tagged).toBe('e BAD Invalid base64 data in initial response');
    // The connection is still usable.
    expect((await authenticate(d, 'f', 'PLAIN', b64(`\0alice\0${PASSWORD}`), () => '')).tagged).toMatch(OK_LOGIN);
    d.close();
  });
});

describe('LOGIN', () => {
  test('Username:/Password: challenges; SASL-IR username; failure; abort', async () => {
    const c = await roost.raw();
    const r = await authenticate(c, 'a', 'LOGIN', null, (_ch, n) => b64(n === 0 ? 'alice' : PASSWORD));
    expect(r.challenges.map(String)).toEqual(['Username:', 'Password:']);
    expect(r.tagged).toMatch(OK_LOGIN);
    await loginLine('alice', 'LOGIN');
    c.close();

    const d = await roost.raw();
    const ir = await authenticate(d, 'b', 'LOGIN', b64('alice'), () => b64('wrong'));
    expect(ir.challenges.map(String)).toEqual(['Password:']);
    expect(ir.tagged).toBe(FAILED('b'));
    clearPenalty();
    expect((await authenticate(d, 'c', 'LOGIN', null, (_ch, n) => (n === 0 ? b64('alice') : '*'))).tagged).toBe('c BAD Authentication aborted by client.');
    const ok = await authenticate(d, 'd', 'LOGIN', b64('alice'), () => b64(PASSWORD));
    expect(ok.tagged).toMatch(OK_LOGIN);
    d.close();
  });
});

describe('CRAM-MD5', () => {
  test('success with the PLAIN password of the roost passdb; wrong digest fails; abort', async () => {
    const c = await roost.raw();
    const r = await authenticate(c, 'a', 'CRAM-MD5', null, (ch) => cramResponse('alice', PASSWORD, ch));
    expect(r.challenges[0]!.toString()).toMatch(/^<\d+\.\d+@[^>]+>$/);
    expect(r.tagged).toMatch(OK_LOGIN);
    await loginLine('alice', 'CRAM-MD5');
    c.close();

    const d = await roost.raw();
    expect((await authenticate(d, 'b', 'CRAM-MD5', null, (ch) => cramResponse('alice', 'wrong', ch))).tagged).toBe(FAILED('b'));
    clearPenalty();
    expect((await authenticate(d, 'c', 'CRAM-MD5', null, () => '*')).tagged).toBe('c BAD Authentication aborted by client.');
    expect((await authenticate(d, 'd', 'CRAM-MD5', null, () => '%%%')).tagged).toBe('d BAD Invalid base64 data in continued response');
    d.close();
  });

  test('a passdb holding only a SCRAM hash cannot serve CRAM-MD5: the login fails', async () => {
    // Dovecot mech-cram-md5: SCHEME_NOT_AVAILABLE is an ordinary failure (auth_request_fail).
    const c = await roost.raw();
    const r = await authenticate(c, 'a', 'CRAM-MD5', null, (ch) => cramResponse('carol', 'carolpw', ch));
    expect(r.tagged).toBe(FAILED('a'));
    await roost.waitForLine(/passwd-file\(carol,127\.0\.0\.1,[^)]*\): Requested CRAM-MD5 scheme, but we have only SCRAM-SHA-256$/);
    c.close();
  });
});

describe.each([
  ['SCRAM-SHA-1', 'sha1'],
  ['SCRAM-SHA-256', 'sha256'],
] as const)('%s', (mech, hash) => {
  test('SASL-IR client-first, server signature verified, login; wrong password fails', async () => {
    const c = await roost.raw();
    const client = new ScramClient(hash, 'alice', PASSWORD);
    let verified = false;
    const r = await authenticate(c, 'a', mech, client.first(), (ch, n) => {
      if (n === 0) return client.final(ch);
      verified = client.verify(ch);
      return '';
    });
    expect(r.challenges).toHaveLength(2);
    expect(verified).toBe(true);
    expect(r.tagged).toMatch(OK_LOGIN);
    await loginLine('alice', mech);
    c.close();

    const d = await roost.raw();
    const bad = new ScramClient(hash, 'alice', 'wrong');
    const f = await authenticate(d, 'b', mech, bad.first(), (ch) => bad.final(ch));
    expect(f.challenges).toHaveLength(1); // no server-final for a wrong proof
    expect(f.tagged).toBe(FAILED('b'));
    clearPenalty();
    // Without SASL-IR: an empty challenge first; then abort in the middle.
    const ab = new ScramClient(hash, 'alice', PASSWORD);
    const a = await authenticate(d, 'c', mech, null, (_ch, n) => (n === 0 ? ab.first() : '*'));
    expect(a.challenges[0]).toEqual(Buffer.alloc(0));
    expect(a.tagged).toBe('c BAD Authentication aborted by client.');
    d.close();
  });
});

test('SCRAM-SHA-256 against a stored {SCRAM-SHA-256} hash in a passwd-file', async () => {
  const c = await roost.raw();
  const client = new ScramClient('sha256', 'carol', 'carolpw');
  let verified = false;
  const r = await authenticate(c, 'a', 'SCRAM-SHA-256', client.first(), (ch, n) => {
    if (n === 0) return client.final(ch);
    verified = client.verify(ch);
    return '';
  });
  expect(verified).toBe(true);
  expect(r.tagged).toMatch(OK_LOGIN);
  await loginLine('carol', 'SCRAM-SHA-256');
  // SCRAM-SHA-1 cannot be derived from a SCRAM-SHA-256 hash.
  const d = await roost.raw();
  const sha1 = new ScramClient('sha1', 'carol', 'carolpw');
  expect((await authenticate(d, 'b', 'SCRAM-SHA-1', sha1.first(), (ch) => sha1.final(ch))).tagged).toBe(FAILED('b'));
  c.close();
  d.close();
});

describe('OAUTHBEARER (token checked by the Lua passdb)', () => {
  const gs2 = (user: string, token: string) => b64(`n,a=${user},\x01host=127.0.0.1\x01port=143\x01auth=Bearer ${token}\x01\x01`);

  test('SASL-IR with a good token logs alice in', async () => {
    const c = await roost.raw();
    const r = await authenticate(c, 'a', 'OAUTHBEARER', gs2('alice', 'good-token'), () => '');
    expect(r.challenges).toEqual([]);
    expect(r.tagged).toMatch(OK_LOGIN);
    await loginLine('alice', 'OAUTHBEARER');
    expect(await c.command('b', 'SELECT INBOX')).toContain('b OK [READ-WRITE] Select completed.');
    c.close();
  });

  test('a bad token: the RFC 7628 error challenge, the client\'s dummy reply, then NO', async () => {
    const c = await roost.raw();
    const r = await authenticate(c, 'a', 'OAUTHBEARER', gs2('alice', 'bad-token'), () => b64('\x01'));
    expect(r.challenges.map((ch) => JSON.parse(ch.toString()))).toEqual([{ status: 'invalid_token', schemes: 'bearer', scope: 'mail' }]);
    expect(r.tagged).toBe(FAILED('a'));
    clearPenalty();
    // The good token for another user is no good either; continuation form; abort.
    expect((await authenticate(c, 'b', 'OAUTHBEARER', gs2('carol', 'good-token'), () => b64('\x01'))).tagged).toBe(FAILED('b'));
    clearPenalty();
    expect((await authenticate(c, 'c', 'OAUTHBEARER', null, () => '*')).tagged).toBe('c BAD Authentication aborted by client.');
    const ok = await authenticate(c, 'd', 'OAUTHBEARER', null, () => gs2('alice', 'good-token'));
    expect(ok.challenges).toEqual([Buffer.alloc(0)]);
    expect(ok.tagged).toMatch(OK_LOGIN);
    c.close();
  });
});

describe('XOAUTH2 (token checked by the Lua passdb)', () => {
  const ir = (user: string, token: string) => b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);

  test('good token logs in; bad token gets the JSON challenge then NO; abort', async () => {
    const c = await roost.raw();
    const r = await authenticate(c, 'a', 'XOAUTH2', ir('alice', 'good-token'), () => '');
    expect(r.tagged).toMatch(OK_LOGIN);
    await loginLine('alice', 'XOAUTH2');
    c.close();

    const d = await roost.raw();
    const f = await authenticate(d, 'b', 'XOAUTH2', ir('alice', 'expired'), () => '');
    expect(f.challenges.map((ch) => JSON.parse(ch.toString()))).toEqual([{ status: '401', schemes: 'bearer', scope: 'mail' }]);
    expect(f.tagged).toBe(FAILED('b'));
    clearPenalty();
    expect((await authenticate(d, 'c', 'XOAUTH2', null, () => '*')).tagged).toBe('c BAD Authentication aborted by client.');
    expect((await authenticate(d, 'd', 'XOAUTH2', null, () => '=garbage=')).tagged).toBe('d BAD Invalid base64 data in continued response');
    d.close();
  });
});

test('a mechanism that is not configured is refused even though Roost implements it', async () => {
  const c = await roost.raw();
  expect(await c.command('a', 'AUTHENTICATE DIGEST-MD5')).toEqual(['a NO Unsupported authentication mechanism.']);
  c.close();
});
