// The brute-force penalty over a real IMAP socket (Dovecot auth-penalty.c): with
// auth_failure_delay = 0 a failed LOGIN from 127.0.0.1 is answered at once, but it raises the IP's
// penalty, so the next request from that IP, on any connection, waits 2·2^1 = 4 s before it is
// processed; a successful login clears the penalty. One real 4 s wait is measured (the harness
// has no clock to inject); the escalation beyond it is read from the penalty table.
import { AUTH_PENALTY_MAX_SECS, penaltyToSecs } from '../../src/auth/penalty.js';
import { startRoost, type Roost } from '../e2e/harness.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(() => roost?.stop());

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

test('a failed login slows the next one from the same IP; a success resets the penalty', async () => {
  expect(roost.ctx.settings.auth_failure_delay).toBe(0);
  const penalty = roost.ctx.auth.penalty;
  expect(penalty.lookup('127.0.0.1')).toBe(0);

  const c = await roost.raw();
  const first = await timed(() => c.command('a', 'LOGIN alice wrong'));
  expect(first.value).toEqual(['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  expect(first.ms).toBeLessThan(1000);
  expect(penalty.lookup('127.0.0.1')).toBe(1);
  expect(penalty.delayMs('127.0.0.1')).toBe(penaltyToSecs(1) * 1000);

  // Another connection from the same IP pays the penalty, even with the right password.
  const d = await roost.raw();
  const slow = await timed(() => d.command('b', 'LOGIN alice pw'));
  expect(slow.value.at(-1)).toMatch(/^b OK \[CAPABILITY [^\]]*\] Logged in$/);
  expect(slow.ms).toBeGreaterThanOrEqual(penaltyToSecs(1) * 1000 - 50);
  expect(slow.ms).toBeLessThan(penaltyToSecs(1) * 1000 + 2000);
  expect(penalty.lookup('127.0.0.1')).toBe(0);
  d.close();

  // Reset: the next failure is answered at once again (and raises the penalty to 1, not 2).
  const again = await timed(() => c.command('c', 'LOGIN alice wrong-again'));
  expect(again.value).toEqual(['c NO [AUTHENTICATIONFAILED] Authentication failed.']);
  expect(again.ms).toBeLessThan(1000);
  expect(penalty.lookup('127.0.0.1')).toBe(1);
  c.close();
  penalty.success('127.0.0.1');
}, 15000);

test('repeated failures escalate the wait up to 15 s; the same user+password retried does not', () => {
  // Recorded exactly as the socket logins above record them (AuthService.fail → penalty.failure).
  const penalty = roost.ctx.auth.penalty;
  const ip = '127.0.0.1';
  penalty.failure(ip, 'alice', 'guess1');
  penalty.failure(ip, 'alice', 'guess1'); // a client re-sending stored credentials is not guessing
  expect(penalty.delayMs(ip)).toBe(4000);
  penalty.failure(ip, 'alice', 'guess2');
  expect(penalty.delayMs(ip)).toBe(8000);
  penalty.failure(ip, 'alice', 'guess3');
  penalty.failure(ip, 'alice', 'guess4');
  penalty.failure(ip, 'alice', 'guess5');
  expect(penalty.delayMs(ip)).toBe(AUTH_PENALTY_MAX_SECS * 1000);
  penalty.success(ip);
  expect(penalty.delayMs(ip)).toBe(0);
});
