// `roost deliver` (runDeliver) and the quota settings that change LMTP's answers.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Readable } from 'node:stream';
import { runDeliver } from '../../src/cli/deliver.js';
import { greet, lmtpEnv, RawClient, type LmtpEnv } from './helpers.js';

const MSG = 'From: a@remote.test\r\nSubject: cli\r\n\r\nbody\r\n';
const stdin = (s: string) => Readable.from([Buffer.from(s)]);

describe('roost deliver', () => {
  let env: LmtpEnv;
  const errors: string[] = [];
  beforeAll(async () => {
    env = await lmtpEnv({ users: [{ username: 'alice@example.com' }, { username: 'full@example.com', quotaRule: '*:messages=1' }] });
  });
  afterAll(async () => env.close());

  test('delivers with Return-Path, to -m MAILBOX when it exists, else INBOX', async () => {
    await env.withStore('alice@example.com', (s) => s.createMailbox('Work'));
    expect(await runDeliver(env.ctx, ['-u', 'alice@example.com', '-f', 'x@remote.test', '-m', 'Work'], stdin(MSG), (l) => errors.push(l))).toBe(0);
    expect((await env.messages('alice@example.com', 'Work')).map(String)).toEqual([`Return-Path: <x@remote.test>\r\n${MSG}`]);
    expect(await runDeliver(env.ctx, ['-u', 'alice@example.com', '-m', 'Nope'], stdin(`From sender@mbox.test Thu Jan  1 00:00:00 2026\n${MSG}`), (l) => errors.push(l))).toBe(0);
    expect((await env.messages('alice@example.com')).map(String)).toEqual([`Return-Path: <sender@mbox.test>\r\n${MSG}`]);
  });

  test('exit codes: unknown user 67, usage 64, over quota 77', async () => {
    expect(await runDeliver(env.ctx, ['-u', 'ghost@example.com'], stdin(MSG), (l) => errors.push(l))).toBe(67);
    expect(await runDeliver(env.ctx, ['-m', 'INBOX'], stdin(MSG), (l) => errors.push(l))).toBe(64);
    expect(await runDeliver(env.ctx, ['-u', 'full@example.com'], stdin(MSG), (l) => errors.push(l))).toBe(0);
    expect(await runDeliver(env.ctx, ['-u', 'full@example.com'], stdin(MSG), (l) => errors.push(l))).toBe(77);
    expect(errors).toContain('roost: Quota exceeded (mailbox for user is full)');
  });
});

describe('quota settings over LMTP', () => {
  let env: LmtpEnv;
  beforeAll(async () => {
    env = await lmtpEnv({
      users: [{ username: 'full@example.com', quotaRule: '*:messages=1' }],
      configure: (s) => {
        s.lmtp_rcpt_check_quota = true;
        s.quota_full_tempfail = true;
      },
    });
  });
  afterAll(async () => env.close());

  test('lmtp_rcpt_check_quota refuses at RCPT; quota_full_tempfail makes it 452 4.2.2', async () => {
    const c = await RawClient.connect({ port: env.port });
    await greet(c);
    c.send('MAIL FROM:<q@remote.test>\r\nRCPT TO:<full@example.com>\r\nDATA\r\n');
    await c.replies(3);
    c.send(`${MSG}.\r\n`);
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 /);
    expect(await c.command('MAIL FROM:<q@remote.test>')).toMatch(/^250 /);
    expect(await c.command('RCPT TO:<full@example.com>')).toBe('452 4.2.2 <full@example.com> Quota exceeded (mailbox for user is full)');
    c.close();
  });
});
