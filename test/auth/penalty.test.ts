import { AuthPenalty, penaltyIdent, penaltyToSecs } from '../../src/auth/penalty.js';
import { AuthService } from '../../src/auth/service.js';
import { logHub } from '../../src/log/logger.js';

logHub.setDefaultOutput(false);

test('delay grows 4, 8, 15, 15 s and resets on success', async () => {
  let now = 1_000_000;
  const penalty = new AuthPenalty({ now: () => now });
  const sleeps: number[] = [];
  const auth = new AuthService(
    { passdbs: [{ driver: 'static', args: 'password=right' }], userdbs: [], auth_failure_delay: 0 },
    { penalty, sleep: async (ms) => void sleeps.push(ms) },
  );
  const req = (password: string) => auth.authenticatePlain({ service: 'imap', remoteIp: '203.0.113.5', user: 'u', password });
  for (const pw of ['a', 'b', 'c', 'd', 'e']) await req(pw);
  expect(sleeps).toEqual([4000, 8000, 15000, 15000]);
  // Retrying the same wrong password does not raise the penalty further.
  expect(penalty.lookup('203.0.113.5')).toBe(4);
  await req('right');
  expect(penalty.lookup('203.0.113.5')).toBe(0);
  sleeps.length = 0;
  await req('right');
  expect(sleeps).toEqual([]);
});

test('same user+password retried is not counted twice; penalty decays with time', () => {
  let now = 0;
  const p = new AuthPenalty({ now: () => now });
  p.failure('198.51.100.1', 'u', 'x');
  p.failure('198.51.100.1', 'u', 'x');
  expect(p.lookup('198.51.100.1')).toBe(1);
  p.failure('198.51.100.1', 'u', 'y');
  expect(p.lookup('198.51.100.1')).toBe(2);
  now += 5_000; // still inside the 15 s window
  expect(p.lookup('198.51.100.1')).toBe(2);
  now += 11_000; // Dovecot drops one step per exceeded window (15 s for the top steps)
  expect(p.lookup('198.51.100.1')).toBe(0);
});

test('IPv6 counts per /48 and the table is bounded', () => {
  expect(penaltyIdent('2001:db8:1:2::5')).toBe(penaltyIdent('2001:db8:1:ffff::9'));
  expect(penaltyIdent('2001:db8:1::1')).not.toBe(penaltyIdent('2001:db8:2::1'));
  const p = new AuthPenalty({ maxEntries: 100 });
  for (let i = 0; i < 1000; i++) p.failure(`10.0.${i >> 8}.${i & 255}`, 'u', String(i));
  expect(p.size).toBe(100);
  expect(p.lookup('10.0.3.231')).toBe(1); // most recent kept
  expect(p.lookup('10.0.0.0')).toBe(0); // oldest evicted
  expect([0, 1, 2, 3, 4].map(penaltyToSecs)).toEqual([2, 4, 8, 15, 15]);
});
