// The brute-force penalty over a real IMAP socket (Dovecot auth-penalty.c): with
// auth_failure_delay = 0 a failed LOGIN from 127.0.0.1 is answered at once, but it raises the IP's
// penalty, so the next request from that IP, on any connection, waits 2·2^1 = 4 s before it is
// processed; a successful login clears the penalty. Auth waits on a clock the test holds: a wait
// is asked for, and the reply stays back until the test lets that wait end — no real seconds pass.
import { AUTH_PENALTY_MAX_SECS, penaltyToSecs } from '../../src/auth/penalty.js';
import { startRoost, type Roost } from '../e2e/harness.js';
import { waitUntil } from '../poll.js';

/** Waits auth asked for, each ended by the test. */
const waits: { ms: number; end: () => void }[] = [];
const authSleep = (ms: number) => new Promise<void>((end) => void waits.push({ ms, end }));

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }], authSleep });
});
afterAll(() => roost?.stop());

test('a failed login slows the next one from the same IP; a success resets the penalty', async () => {
  expect(roost.ctx.settings.auth_failure_delay).toBe(0);
  const penalty = roost.ctx.auth.penalty;
  expect(penalty.lookup('127.0.0.1')).toBe(0);

  const c = await roost.raw();
  // Answered without waiting for anything.
  expect(await c.command('a', 'LOGIN alice wrong')).toEqual(['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  expect(waits).toEqual([]);
  expect(penalty.lookup('127.0.0.1')).toBe(1);
  expect(penalty.delayMs('127.0.0.1')).toBe(penaltyToSecs(1) * 1000);

  // Another connection from the same IP pays the penalty, even with the right password: auth asks
  // for a 4 s wait, and the reply comes only once that wait ends.
  const d = await roost.raw();
  let replied = false;
  const login = d.command('b', 'LOGIN alice pw').then((lines) => {
    replied = true;
    return lines;
  });
  await waitUntil('the penalty wait', () => waits.length === 1);
  expect(waits[0]!.ms).toBe(penaltyToSecs(1) * 1000);
  // The server is parked on that wait: a NOOP on the first connection is answered meanwhile.
  expect((await c.command('n', 'NOOP')).at(-1)).toBe('n OK NOOP completed.');
  expect(replied).toBe(false);
  waits.shift()!.end();
  expect((await login).at(-1)).toMatch(/^b OK \[CAPABILITY [^\]]*\] Logged in$/);
  expect(penalty.lookup('127.0.0.1')).toBe(0);
  d.close();

  // Reset: the next failure is answered at once again (and raises the penalty to 1, not 2).
  expect(await c.command('c', 'LOGIN alice wrong-again')).toEqual(['c NO [AUTHENTICATIONFAILED] Authentication failed.']);
  expect(waits).toEqual([]);
  expect(penalty.lookup('127.0.0.1')).toBe(1);
  c.close();
  penalty.success('127.0.0.1');
});

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
