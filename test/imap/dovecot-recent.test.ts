// \Recent after EXPUNGE, as a real Dovecot 2.3.19.1 answers the same sequence: the session that
// owns \Recent messages is told the lower count (`* n RECENT`) after the EXPUNGEs, whether it
// expunged them itself or another session did.
import { message, startRoost, type Roost } from '../e2e/harness.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(async () => {
  await roost.stop();
});

test('EXPUNGE of \\Recent messages is followed by an untagged RECENT', async () => {
  await roost.deliver(['alice'], message('one'));
  await roost.deliver(['alice'], message('two'));
  const a = await roost.raw({ username: 'alice' });
  const b = await roost.raw({ username: 'alice' });
  try {
    expect(await a.command('a1', 'SELECT INBOX')).toContain('* 2 RECENT');
    await b.command('b1', 'SELECT INBOX');
    await b.command('b2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.command('b3', 'EXPUNGE');
    expect(await a.command('a2', 'NOOP')).toEqual(['* 1 EXPUNGE', '* 1 RECENT', 'a2 OK NOOP completed.']);
    await a.command('a3', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(await a.command('a4', 'EXPUNGE')).toEqual(['* 1 EXPUNGE', '* 0 RECENT', 'a4 OK Expunge completed.']);
  } finally {
    a.close();
    b.close();
  }
});
