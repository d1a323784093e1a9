// Replays Dovecot 2.3.19's auth client protocol, recorded from a real Dovecot (see
// test/fixtures/postfix/README.md), against Roost's auth service over a real unix socket, line by
// line: the handshake, AUTH with every parameter Postfix sends, CONT, OK/FAIL with their fields,
// and the protocol errors after which Dovecot disconnects.
import { statSync } from 'node:fs';
import { authRecording, LineClient, startAuthRoost, type AuthRoost, type AuthScenario } from './helpers.js';

const rec = authRecording();
let roost: AuthRoost;

beforeAll(async () => {
  roost = await startAuthRoost();
});
afterAll(async () => {
  await roost.stop();
});

/** SPID, CUID and COOKIE change with every process and connection; their shape does not. */
function expectHandshakeLine(actual: string, recorded: string): void {
  const m = /^(SPID|CUID|COOKIE)\t/.exec(recorded);
  if (!m) return expect(actual).toBe(recorded);
  const shape = { SPID: /^SPID\t[1-9]\d*$/, CUID: /^CUID\t[1-9]\d*$/, COOKIE: /^COOKIE\t[0-9a-f]{32}$/ }[m[1] as 'SPID' | 'CUID' | 'COOKIE'];
  expect(actual).toMatch(shape);
}

test('the recording comes from Dovecot 2.3.19', () => {
  expect(rec.dovecot).toMatch(/^2\.3\.19/);
  expect(rec.scenarios.length).toBeGreaterThan(20);
});

test('the socket has the configured mode', () => {
  expect(statSync(roost.socketPath).mode & 0o777).toBe(0o660);
});

async function replay(socketPath: string, scenario: AuthScenario): Promise<void> {
  const c = await LineClient.connect({ path: socketPath });
  try {
    let closed = false;
    for (const step of scenario.steps) {
      if ('closed' in step) {
        closed = step.closed;
        continue;
      }
      if (step.client !== undefined) c.send(`${step.client}\n`);
      const got = await c.lines(step.server.length);
      if (step.client === undefined) got.forEach((line, i) => expectHandshakeLine(line, step.server[i]!));
      else expect(got).toEqual(step.server);
    }
    if (closed) {
      await c.waitClosed();
    } else {
      // Still connected and answering: a CONT for an unknown request gets Dovecot's FAIL.
      c.send('CONT\t4000000\tAAAA\n');
      expect(await c.lines(1)).toEqual(['FAIL\t4000000\treason=Authentication request timed out']);
    }
  } finally {
    c.close();
  }
}

test.each(rec.scenarios.map((s) => [s.name, s] as const))('%s', (_name, scenario) => replay(roost.socketPath, scenario));

describe('deny passdb and master passdb with pass = yes', () => {
  let second: AuthRoost;
  beforeAll(async () => {
    second = await startAuthRoost('', undefined, 'deny-and-master-pass');
  });
  afterAll(async () => {
    await second.stop();
  });
  test.each(rec.scenarios_deny_and_master_pass.map((s) => [s.name, s] as const))('%s', (_name, scenario) => replay(second.socketPath, scenario));
});
