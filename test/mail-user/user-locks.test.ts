// The per-user hold a restore takes on a running server: entries (logins, deliveries) are refused
// while it is held, a lock waits for the entries in progress, and two locks of one user never
// overlap. Order of events only, no timing.
import { UserLocks } from '../../src/mail-user/user-locks.js';

const settled = () => new Promise((r) => setImmediate(r));

test('a lock waits for the entries in progress and refuses new ones until it is released', async () => {
  const locks = new UserLocks();
  const leave = locks.enter('alice')!;
  expect(leave).not.toBeNull();
  let locked: (() => void) | null = null;
  void locks.lock('alice').then((unlock) => (locked = unlock));
  await settled();
  expect(locked).toBeNull(); // a delivery is still storing
  expect(locks.enter('alice')).toBeNull();
  expect(locks.isLocked('alice')).toBe(true);
  expect(locks.enter('bob')).not.toBeNull(); // other users go on
  leave();
  leave(); // leaving twice counts once
  await settled();
  expect(locked).not.toBeNull();
  locked!();
  expect(locks.isLocked('alice')).toBe(false);
  expect(locks.enter('alice')).not.toBeNull();
});

test('two locks of one user are taken one after the other', async () => {
  const locks = new UserLocks();
  const order: string[] = [];
  const first = await locks.lock('alice');
  const second = locks.lock('alice').then((unlock) => {
    order.push('second');
    return unlock;
  });
  await settled();
  expect(order).toEqual([]);
  order.push('first released');
  first();
  // Still locked: the second holder has it now.
  expect(locks.isLocked('alice')).toBe(true);
  const unlockSecond = await second;
  expect(order).toEqual(['first released', 'second']);
  unlockSecond();
  expect(locks.isLocked('alice')).toBe(false);
});
