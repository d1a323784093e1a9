// LMTP over real sockets: per-recipient replies in order, stored copies byte-exact plus the
// trace headers, detail mailboxes, quota, size limit, pipelining, the unix socket, bad input.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { captureLogs } from '../../src/log/logger.js';
import { MailUserInitError } from '../../src/mail-user/hooks.js';
import { greet, lmtpEnv, RawClient, splitAdded, type LmtpEnv } from './helpers.js';
import { waitUntil } from '../poll.js';
import { testBackend } from '../backend.js';

/** Tests of SQLite's body files (hard links between homes): PostgreSQL keeps bodies in the database. */
const bodyFilesTest = testBackend === 'sqlite' ? test : test.skip;

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const FULL = 'full@example.com';

function message(subject: string, body = 'Hello.\r\n'): string {
  return `From: Sender <sender@remote.test>\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@remote.test>\r\n\r\n${body}`;
}

/** DATA payload with dot-stuffing and the final dot. */
function dataOf(msg: string): string {
  return msg.replace(/^\./gm, '..') + '.\r\n';
}

let env: LmtpEnv;
beforeAll(async () => {
  env = await lmtpEnv({
    users: [{ username: ALICE }, { username: BOB }, { username: FULL, quotaRule: '*:storage=1K' }],
    configure: (s) => {
      s.lmtp_save_to_detail_mailbox = true;
      s.mail_max_message_size = 64 * 1024;
    },
    server: { spoolMemoryLimit: 16 * 1024 },
  });
  await env.withStore(ALICE, (store) => store.createMailbox('Lists'));
});
afterAll(async () => {
  await env.close();
});

describe('recipients and replies', () => {
  test('mixed outcomes get one reply each, in RCPT order, and only accepted copies are stored', async () => {
    const before = (await env.messages(ALICE)).length;
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    // Pipelined: the whole transaction in one write (RFC 2920).
    c.send(
      `MAIL FROM:<sender@remote.test>\r\nRCPT TO:<${ALICE}>\r\nRCPT TO:<nobody@example.com>\r\n` +
        `RCPT TO:<${FULL}>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`,
    );
    const envelope = await c.replies(6);
    expect(envelope[0]).toMatch(/^250 2\.1\.0 /);
    expect(envelope[1]).toMatch(/^250 2\.1\.5 /);
    expect(envelope[2]).toBe("550 5.1.1 <nobody@example.com> User doesn't exist: nobody@example.com");
    expect(envelope[3]).toMatch(/^250 2\.1\.5 /);
    expect(envelope[4]).toMatch(/^250 2\.1\.5 /);
    expect(envelope[5]).toMatch(/^354 /);
    const msg = message('mixed', 'x'.repeat(2000) + '\r\n');
    c.send(dataOf(msg));
    const replies = await c.replies(3);
    expect(replies[0]).toMatch(new RegExp(`^250 2\\.0\\.0 <${ALICE}> [A-Za-z0-9+/]{22} Saved$`));
    expect(replies[1]).toBe(`552 5.2.2 <${FULL}> Quota exceeded (mailbox for user is full)`);
    expect(replies[2]).toMatch(new RegExp(`^250 2\\.0\\.0 <${BOB}> [A-Za-z0-9+/]{22}:R4 Saved$`));
    c.close();

    const alice = await env.messages(ALICE);
    expect(alice).toHaveLength(before + 1);
    const { added, rest } = splitAdded(alice[alice.length - 1]!);
    expect(rest.toString('latin1')).toBe(msg);
    // Several recipients: no Delivered-To and no `for` clause (Dovecot 2.3.19).
    const sid = replies[0]!.split(' ')[3]!;
    expect(added).toMatch(
      new RegExp(
        `^Return-Path: <sender@remote\\.test>\\r\\nReceived: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n` +
          `\\tby mx\\.test with LMTP\\r\\n\\tid ${sid.replace(/[+/]/g, '\\$&')}\\r\\n` +
          `\\t\\(envelope-from <sender@remote\\.test>\\); \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\r\\n$`,
      ),
    );
    const bob = await env.messages(BOB);
    expect(splitAdded(bob[bob.length - 1]!).rest.toString('latin1')).toBe(msg);
    expect(await env.messages(FULL)).toHaveLength(0);
  });

  test('a single recipient gets Delivered-To and the Received `for` clause; later transactions get :T<n> ids', async () => {
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<a@remote.test>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(dataOf(message('first')));
    const [first] = await c.replies(1);
    c.send(`MAIL FROM:<>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(dataOf(message('second')));
    const [second] = await c.replies(1);
    c.close();
    const sid = first!.split(' ')[3]!;
    expect(second).toBe(`250 2.0.0 <${BOB}> ${sid}:T2 Saved`);
    const bob = await env.messages(BOB);
    const { added } = splitAdded(bob[bob.length - 1]!);
    expect(added).toMatch(/^Return-Path: <>\r\nDelivered-To: bob@example\.com\r\nReceived: from client\.test /);
    expect(added).toContain(`\tid ${sid}:T2\r\n\t(envelope-from <>)\r\n\tfor <${BOB}>; `);
  });

  test('nodemailer LMTP client: accepted and rejected recipients', async () => {
    const transport = nodemailer.createTransport({ lmtp: true, host: '127.0.0.1', port: env.port, name: 'mta.test' });
    const info = await transport.sendMail({
      envelope: { from: 'n@remote.test', to: [ALICE, 'ghost@example.com'] },
      raw: message('nodemailer'),
    });
    transport.close();
    expect(info.accepted).toEqual([ALICE]);
    expect(info.rejected).toEqual(['ghost@example.com']);
    const alice = await env.messages(ALICE);
    expect(splitAdded(alice[alice.length - 1]!).rest.toString()).toBe(message('nodemailer'));
  });

  test('a failing mail_user created hook gives 451 for that recipient and logs why', async () => {
    const logs = captureLogs();
    const remove = env.ctx.mailUsers.addHooks('test-fail', {
      async created(user) {
        if (user.username === BOB && user.service === 'lmtp') throw new MailUserInitError('script exploded');
      },
    });
    try {
      const c = await RawClient.connect({ port: env.port });
      await greet(c);
      c.send(`MAIL FROM:<x@remote.test>\r\nRCPT TO:<${BOB}>\r\nRCPT TO:<${ALICE}>\r\nDATA\r\n`);
      await c.replies(4);
      c.send(dataOf(message('hookfail')));
      const replies = await c.replies(2);
      c.close();
      expect(replies[0]).toBe(`451 4.3.0 <${BOB}> Temporary internal error`);
      expect(replies[1]).toMatch(/^250 2\.0\.0 /);
      expect(logs.lines.some((l) => l.includes('Failed to initialize user: script exploded'))).toBe(true);
    } finally {
      remove();
      logs.stop();
    }
  });
});

describe('mailboxes and quota', () => {
  test('user+detail goes to the detail mailbox when it exists, else INBOX', async () => {
    const inboxBefore = (await env.messages(ALICE)).length;
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<l@remote.test>\r\nRCPT TO:<alice+Lists@example.com>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(dataOf(message('to-lists')));
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 <alice\+Lists@example\.com> /);
    c.send(`MAIL FROM:<l@remote.test>\r\nRCPT TO:<alice+nosuch@example.com>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(dataOf(message('to-nosuch')));
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 /);
    c.close();
    const lists = await env.messages(ALICE, 'Lists');
    expect(lists.map((m) => splitAdded(m).rest.toString())).toEqual([message('to-lists')]);
    expect(splitAdded(lists[0]!).added).toContain('Delivered-To: alice+Lists@example.com\r\n');
    const inbox = await env.messages(ALICE);
    expect(inbox).toHaveLength(inboxBefore + 1);
    expect(splitAdded(inbox[inbox.length - 1]!).rest.toString()).toBe(message('to-nosuch'));
    expect(await env.withStore(ALICE, (s) => s.getMailbox('nosuch'))).toBeUndefined();
  });

  test('a message filling the quota is refused, the next smaller one still fits', async () => {
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<q@remote.test>\r\nRCPT TO:<${FULL}>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(dataOf(message('small')));
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 <full@example\.com> /);
    c.send(`MAIL FROM:<q@remote.test>\r\nRCPT TO:<${FULL}>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(dataOf(message('big', 'y'.repeat(900) + '\r\n')));
    expect((await c.replies(1))[0]).toBe(`552 5.2.2 <${FULL}> Quota exceeded (mailbox for user is full)`);
    c.close();
    expect((await env.messages(FULL)).map((m) => splitAdded(m).rest.toString())).toEqual([message('small')]);
  });
});

describe('size limit and bad input', () => {
  test('a message over mail_max_message_size gets 552 per recipient, nothing is stored, the session goes on', async () => {
    const before = [(await env.messages(ALICE)).length, (await env.messages(BOB)).length];
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<big@remote.test>\r\nRCPT TO:<${ALICE}>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
    await c.replies(4);
    const line = 'z'.repeat(998) + '\r\n';
    c.send(dataOf(message('huge', line.repeat(70))));
    expect(await c.replies(2)).toEqual([
      '552 5.2.3 Message size exceeds administrative limit',
      '552 5.2.3 Message size exceeds administrative limit',
    ]);
    // MAIL FROM with a declared SIZE above the limit is refused up front.
    expect(await c.command('MAIL FROM:<big@remote.test> SIZE=100000')).toMatch(/^552 /);
    expect(await c.command('NOOP')).toMatch(/^250 /);
    c.close();
    expect([(await env.messages(ALICE)).length, (await env.messages(BOB)).length]).toEqual(before);
  });

  test('a message above the spool threshold goes through a temp file and is stored byte-exact', async () => {
    const body = Array.from({ length: 400 }, (_, i) => `line ${i} ${'q'.repeat(90)}\r\n`).join('') + '.leading dot\r\n';
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<s@remote.test>\r\nRCPT TO:<${ALICE}>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
    await c.replies(4);
    c.send(dataOf(message('spooled', body)));
    expect((await c.replies(2)).every((r) => r.startsWith('250 2.0.0'))).toBe(true);
    c.close();
    for (const u of [ALICE, BOB]) {
      const all = await env.messages(u);
      expect(splitAdded(all[all.length - 1]!).rest.toString()).toBe(message('spooled', body));
    }
    expect(readdirSync(join(env.dir, 'spool'))).toEqual([]);
  });

  bodyFilesTest('a large message for several recipients is written once and hard-linked into each home', async () => {
    const homeOf = (u: string) => join(env.dir, 'home', u.split('@')[1]!, u.split('@')[0]!);
    const files = (u: string) => {
      const root = join(homeOf(u), 'bodies');
      if (!existsSync(root)) return new Map<string, number>();
      return new Map(readdirSync(root).flatMap((d) => readdirSync(join(root, d)).map((f) => [join(root, d, f), statSync(join(root, d, f)).ino] as const)));
    };
    const before = [ALICE, BOB, FULL].map((u) => new Set(files(u).keys()));
    const body = Array.from({ length: 450 }, (_, i) => `row ${i} ${'w'.repeat(90)}\r\n`).join('');
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<s@remote.test>\r\nRCPT TO:<${ALICE}>\r\nRCPT TO:<${FULL}>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
    await c.replies(5);
    c.send(dataOf(message('linked', body)));
    const replies = await c.replies(3);
    expect(replies[0]).toMatch(/^250 2\.0\.0 /);
    expect(replies[1]).toMatch(/^552 5\.2\.2 /); // over quota: its staged link is removed again
    expect(replies[2]).toMatch(/^250 2\.0\.0 /);
    c.close();
    const added = [ALICE, BOB, FULL].map((u, i) => [...files(u)].filter(([p]) => !before[i]!.has(p)));
    expect(added[0]).toHaveLength(1);
    expect(added[1]).toHaveLength(1);
    expect(added[2]).toHaveLength(0);
    expect(added[0]![0]![1]).toBe(added[1]![0]![1]); // one inode, two links
    expect(statSync(added[0]![0]![0]).nlink).toBe(2);
    for (const u of [ALICE, BOB]) {
      const all = await env.messages(u);
      expect(splitAdded(all[all.length - 1]!).rest.toString()).toBe(message('linked', body));
    }
  });

  test('bare LF, bare CR, NUL bytes and broken MIME are stored as received', async () => {
    const raw = Buffer.concat([
      Buffer.from('Subject: odd\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nbare\rcr\nnul:'),
      Buffer.from([0, 1, 0xff]),
      Buffer.from('\r\n--b\r\nno end boundary\r\n'),
    ]);
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<s@remote.test> BODY=8BITMIME\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(Buffer.concat([raw, Buffer.from('.\r\n')]));
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 /);
    c.close();
    const bob = await env.messages(BOB);
    expect(splitAdded(bob[bob.length - 1]!).rest.equals(raw)).toBe(true);
  });

  test('a client that disconnects in the middle of DATA leaves nothing stored', async () => {
    const before = (await env.messages(ALICE)).length;
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<s@remote.test>\r\nRCPT TO:<${ALICE}>\r\nDATA\r\n`);
    await c.replies(3);
    c.send(message('cut', 'partial line without the final dot\r\n'.repeat(1000)));
    // Larger than the spool threshold: the server is writing it to a spool file when we hang up.
    await waitUntil('the message to be spooled', () => readdirSync(join(env.dir, 'spool')).length === 1);
    c.close();
    await waitUntil('the spool file to be removed', () => readdirSync(join(env.dir, 'spool')).length === 0);
    expect(await env.messages(ALICE)).toHaveLength(before);
  });

  test('commands out of order, unknown commands, AUTH and STARTTLS are refused', async () => {
    const c = await RawClient.connect({ port: env.port });
    expect((await c.replies(1))[0]).toMatch(/^220 mx\.test /);
    c.send('LHLO client.test\r\n');
    const lhlo = await c.replyLines();
    expect(lhlo[0]).toMatch(/^250-mx\.test /);
    const features = lhlo.slice(1).map((l) => l.slice(4));
    expect(features).toEqual(expect.arrayContaining(['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'SIZE 65536']));
    expect(features.some((f) => /^(STARTTLS|AUTH)/.test(f))).toBe(false);
    expect(await c.command(`RCPT TO:<${ALICE}>`)).toMatch(/^503 /);
    expect(await c.command('DATA')).toMatch(/^503 /);
    expect(await c.command('FROBNICATE')).toMatch(/^500 /);
    expect(await c.command('AUTH PLAIN AGFsaWNlAHNlY3JldA==')).toMatch(/^5\d\d /);
    expect(await c.command('STARTTLS')).toMatch(/^5\d\d /);
    expect(await c.command('MAIL FROM:<bad')).toMatch(/^501 /);
    expect(await c.command('MAIL FROM:<ok@remote.test> BODY=8BITMIME SMTPUTF8')).toMatch(/^250 2\.1\.0 /);
    expect(await c.command('RSET')).toMatch(/^250 /);
    expect(await c.command(`RCPT TO:<${ALICE}>`)).toMatch(/^503 /);
    expect(await c.command('QUIT')).toMatch(/^221 /);
    c.close();
  });
});

describe('listeners and change notices', () => {
  test('delivery over the unix socket (Postfix lmtp:unix:) wakes store listeners at once', async () => {
    const seen: string[] = [];
    const user = await env.ctx.mailUsers.createUser({ username: ALICE, service: 'imap' });
    const off = user.getStore().onChange((n) => seen.push(n.kind));
    try {
      const c = await RawClient.connect({ path: env.socketPath });
      await greet(c);
      c.send(`MAIL FROM:<u@remote.test>\r\nRCPT TO:<${ALICE}>\r\nDATA\r\n`);
      await c.replies(3);
      c.send(dataOf(message('unix')));
      const [reply] = await c.replies(1);
      // The notice is out by the time the 250 is (an IDLE-ing session is woken at once).
      expect(seen).toContain('messages');
      expect(reply).toMatch(/^250 2\.0\.0 <alice@example\.com> /);
      c.close();
    } finally {
      off();
      await env.ctx.mailUsers.destroyUser(user);
    }
    const alice = await env.messages(ALICE);
    expect(splitAdded(alice[alice.length - 1]!).rest.toString()).toBe(message('unix'));
  });
});

// Dovecot 2.3.19 (checked on a private dovecot-lmtpd): a repeated recipient is accepted, delivered
// once, and answered after DATA with a copy of the first one's reply; the local part is compared
// with case, the domain without.
describe('duplicate recipients', () => {
  test('a repeated RCPT gets its own reply (the first one repeated) and one stored copy', async () => {
    const aliceBefore = (await env.messages(ALICE)).length;
    const bobBefore = (await env.messages(BOB)).length;
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(
      `MAIL FROM:<d@remote.test>\r\nRCPT TO:<${ALICE}>\r\nRCPT TO:<${ALICE}>\r\nRCPT TO:<${BOB}>\r\n` +
        `RCPT TO:<alice@EXAMPLE.COM>\r\nDATA\r\n`,
    );
    const envelope = await c.replies(6);
    expect(envelope.slice(1, 5).every((r) => /^250 2\.1\.5 /.test(r))).toBe(true);
    expect(envelope[5]).toMatch(/^354 /);
    c.send(dataOf(message('duplicates')));
    const replies = await c.replies(4);
    const sid = replies[0]!.split(' ')[3]!;
    expect(replies[0]).toBe(`250 2.0.0 <${ALICE}> ${sid} Saved`);
    expect(replies[1]).toBe(replies[0]);
    // Duplicates still count in the recipient ids (Dovecot: the third RCPT is R3).
    expect(replies[2]).toBe(`250 2.0.0 <${BOB}> ${sid}:R3 Saved`);
    expect(replies[3]).toBe(replies[0]);
    // The session goes on: the next transaction is answered normally.
    c.send(`RSET\r\nMAIL FROM:<d@remote.test>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
    await c.replies(4);
    c.send(dataOf(message('after-duplicates')));
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 <bob@example\.com> /);
    c.close();

    const alice = await env.messages(ALICE);
    expect(alice).toHaveLength(aliceBefore + 1);
    // Four RCPTs: no Delivered-To, as with several recipients (Dovecot counts the duplicates too).
    expect(splitAdded(alice[alice.length - 1]!).added).not.toContain('Delivered-To');
    expect(await env.messages(BOB)).toHaveLength(bobBefore + 2);
  });

  test('a local part in other case is another recipient: a copy and a reply of its own', async () => {
    const before = (await env.messages(ALICE)).length;
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send(`MAIL FROM:<d@remote.test>\r\nRCPT TO:<ALICE@example.com>\r\nRCPT TO:<${ALICE}>\r\nDATA\r\n`);
    const envelope = await c.replies(4);
    expect(envelope[1]).toMatch(/^250 2\.1\.5 /);
    expect(envelope[2]).toMatch(/^250 2\.1\.5 /);
    c.send(dataOf(message('case')));
    const replies = await c.replies(2);
    const sid = replies[0]!.split(' ')[3]!;
    expect(replies).toEqual([`250 2.0.0 <ALICE@example.com> ${sid} Saved`, `250 2.0.0 <${ALICE}> ${sid}:R2 Saved`]);
    c.close();
    expect(await env.messages(ALICE)).toHaveLength(before + 2);
  });

  test('nodemailer LMTP client: a message to a repeated recipient is sent and answered for each', async () => {
    // nodemailer's transport removes repeated addresses itself; its SMTP/LMTP connection sends
    // the envelope as given and waits for one reply per RCPT (an MTA forwarding a queue does this).
    const before = (await env.messages(ALICE)).length;
    const conn = new SMTPConnection({ lmtp: true, host: '127.0.0.1', port: env.port, name: 'mta.test' });
    await new Promise<void>((resolve, reject) => {
      conn.once('error', reject);
      conn.connect(() => resolve());
    });
    const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
      conn.send({ from: 'n@remote.test', to: [ALICE, BOB, 'alice@EXAMPLE.COM'] }, message('nodemailer-duplicates'), (err, i) =>
        err ? reject(err) : resolve(i),
      ),
    );
    conn.quit();
    expect(info.rejected).toEqual([]);
    expect(info.accepted).toEqual([ALICE, BOB, 'alice@EXAMPLE.COM']);
    expect(await env.messages(ALICE)).toHaveLength(before + 1);
  });
});
