// A user's store stays open for a while after the last session ended (mail_store_idle_time,
// mail_store_idle_max): the next login takes it over instead of opening the SQLite file again,
// and still sees what another process (`roost deliver`) stored meanwhile.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IdleClock } from '../../../src/mail-user/idle-stores.js';
import { UserLocks } from '../../../src/mail-user/user-locks.js';
import { buildCli, roost } from '../../cli/built-roost.js';
import { waitUntil } from '../../poll.js';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

/** Idle timers that fire only when the test advances the time. */
class ManualClock implements IdleClock {
  private now = 0;
  private readonly timers = new Set<{ at: number; fn: () => void }>();
  schedule(fn: () => void, ms: number): () => void {
    const t = { at: this.now + ms, fn };
    this.timers.add(t);
    return () => this.timers.delete(t);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const t of [...this.timers]) {
      if (t.at > this.now) continue;
      this.timers.delete(t);
      t.fn();
    }
  }
}

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

beforeAll(() => buildCli());

async function session(port: number, user: string, select = 'INBOX'): Promise<string[]> {
  const c = await RawClient.connect(port);
  expect((await c.command('l', `LOGIN ${user} pw`)).pop()).toMatch(/^l OK /);
  const selected = await c.command('s', `SELECT ${select}`);
  expect((await c.command('o', 'LOGOUT')).pop()).toMatch(/^o OK /);
  return selected;
}

test('a login after the last session ended reuses the open store and sees a delivery made meanwhile by another process', async () => {
  const clock = new ManualClock();
  t = await startTestServer((s) => (s.mail_store_idle_time = 60_000), {}, { idleClock: clock });
  const stores = t.ctx.mailUsers.stores;
  expect(await session(t.port, 'alice')).toContain('* 0 EXISTS');
  await waitUntil('the store parked', () => stores.openCount === 0 && stores.idle.size === 1);
  expect(stores.idle.counts).toEqual({ opened: 1, reused: 0 });

  // `roost deliver` in a process of its own, on the same data.
  const conf = join(t.dataDir, 'deliver.conf');
  writeFileSync(conf, `data_dir = ${t.dataDir}\nmail_location = ${t.ctx.settings.mail_location}\nmail_home = ${t.dataDir}/home/%d/%n\nbase_dir = ${t.dataDir}/run\nstate_dir = ${t.dataDir}/state\n`);
  const r = await roost(['-c', conf, 'deliver', '-u', 'alice'], { input: 'Subject: meanwhile\r\n\r\nhello\r\n' });
  expect(r).toMatchObject({ code: 0 });

  const again = await session(t.port, 'alice');
  expect(again).toContain('* 1 EXISTS');
  await waitUntil('the store parked again', () => stores.openCount === 0 && stores.idle.size === 1);
  expect(stores.idle.counts).toEqual({ opened: 1, reused: 1 });

  // Idle for the configured time: closed; the next login opens it afresh and still sees the mail.
  clock.advance(59_999);
  expect(stores.idle.size).toBe(1);
  clock.advance(1);
  expect(stores.idle.size).toBe(0);
  expect(await session(t.port, 'alice')).toContain('* 1 EXISTS');
  await waitUntil('the store parked', () => stores.idle.size === 1);
  expect(stores.idle.counts).toEqual({ opened: 2, reused: 1 });
});

test('mail_store_idle_max bounds the idle stores, least recently used closed first; shutdown closes the rest', async () => {
  t = await startTestServer((s) => (s.mail_store_idle_max = 1), {}, { idleClock: new ManualClock() });
  const stores = t.ctx.mailUsers.stores;
  await session(t.port, 'alice');
  await waitUntil('alice parked', () => stores.idle.size === 1);
  await session(t.port, 'bob');
  await waitUntil('bob parked, alice closed', () => stores.openCount === 0 && stores.idle.counts.opened === 2);
  expect(stores.idle.size).toBe(1);
  await session(t.port, 'bob');
  await session(t.port, 'alice');
  await waitUntil('both sessions ended', () => stores.openCount === 0);
  expect(stores.idle.counts).toEqual({ opened: 3, reused: 1 });
  await t.ctx.mailUsers.shutdown();
  expect(stores.idle.size).toBe(0);
});

test('mail_store_idle_time = 0 closes a store when its last session ends', async () => {
  t = await startTestServer((s) => (s.mail_store_idle_time = 0), {}, { idleClock: new ManualClock() });
  const stores = t.ctx.mailUsers.stores;
  await session(t.port, 'alice');
  await session(t.port, 'alice');
  await waitUntil('both sessions ended', () => stores.openCount === 0);
  expect(stores.idle.size).toBe(0);
  expect(stores.idle.counts).toEqual({ opened: 2, reused: 0 });
});

test('a store whose last session ends while a restore holds the user is closed, not kept', async () => {
  const userLocks = new UserLocks();
  t = await startTestServer(() => undefined, {}, { idleClock: new ManualClock(), userLocks });
  const stores = t.ctx.mailUsers.stores;
  const c = await RawClient.connect(t.port);
  expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK /);
  await c.command('s', 'SELECT INBOX');
  const unlock = await userLocks.lock('alice');
  expect((await c.command('o', 'LOGOUT')).pop()).toMatch(/^o OK /);
  await waitUntil('the session ended', () => stores.openCount === 0);
  expect(stores.idle.size).toBe(0);
  unlock();
  await session(t.port, 'alice');
  await waitUntil('parked once unlocked', () => stores.idle.size === 1);
  expect(stores.idle.counts).toEqual({ opened: 2, reused: 0 });
});
