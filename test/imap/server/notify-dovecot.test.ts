// NOTIFY (RFC 5465), differential: the steps of test/fixtures/notify/dovecot-answers.json replayed
// on Roost with two sessions of one user, A (which sets NOTIFY) and B (which makes the changes);
// every answer A gets — the untagged lines since its previous command, and the tagged reply — is
// the one Dovecot 2.3.19 gave (see the README there for how the recording was made). UIDVALIDITY
// values differ between servers and are compared by shape; STATUS lines of one answer are
// compared in any order (Dovecot lists mailboxes in its directory order).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/notify');
const recording = JSON.parse(readFileSync(path.join(FIXTURES, 'dovecot-answers.json'), 'utf8')) as {
  steps: Array<['A' | 'B', string]>;
  answers: Array<{ command: string; untagged: string[]; status: string; text: string }>;
};
const MESSAGE = 'From: a@example.org\r\nTo: b@example.org\r\nSubject: notify test\r\n\r\nbody\r\n';

/**
 * Where Roost answers differently on purpose, by A-step index and with the reason (also in the
 * fixture README and docs/dovecot-differences.md).
 */
const DIFFERENCES = new Map<number, { roost: string[]; why: string }>([
  // Dovecot's mailbox-list index reports mailboxes it has just indexed (for the previous NOTIFY SET
  // STATUS) once more, as if their UIDVALIDITY had changed; nothing changed in them.
  [29, { roost: 'INBOX other subs work work/sub'.split(' ').map((m) => `* STATUS ${m} (MESSAGES ${/INBOX|other|work$/.test(m) ? 1 : 0} UIDNEXT ${/INBOX|other|work$/.test(m) ? 2 : 1} UIDVALIDITY <v> UNSEEN ${/INBOX|other/.test(m) ? 1 : 0} HIGHESTMODSEQ ${/INBOX|other|work$/.test(m) ? 2 : 1})`), why: 'repeated STATUS of freshly indexed mailboxes' }],
  [74, { roost: ['* 6 EXISTS', '* 5 FETCH (UID 7 FLAGS (\\Recent))', '* 6 FETCH (UID 8 FLAGS ())'], why: 'repeated STATUS of freshly indexed mailboxes' }],
  // With NOTIFY set and no event for the selected mailbox Dovecot drops an expunged message from its
  // view without telling the client, whose sequence numbers are then wrong; Roost still sends the
  // EXPUNGE (docs/dovecot-differences.md).
  [72, { roost: ['* 1 EXPUNGE'], why: 'EXPUNGE kept when the selected mailbox has no NOTIFY events' }],
]);

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());

function normalize(lines: string[]): string[] {
  // MAILBOXID (OBJECTID, RFC 8474) is Roost's alone: Dovecot 2.3 does not advertise it.
  const out = lines.filter((l) => !l.startsWith('* OK [MAILBOXID ')).map((l) => l.replace(/UIDVALIDITY \d+/, 'UIDVALIDITY <v>'));
  const status = out.filter((l) => l.startsWith('* STATUS ')).sort();
  let i = 0;
  return out.map((l) => (l.startsWith('* STATUS ') ? status[i++]! : l));
}

test('every NOTIFY answer and notification matches the recording', async () => {
  const sessions = { A: await RawClient.connect(t.port), B: await RawClient.connect(t.port) };
  const tags = { A: 0, B: 0 };
  for (const c of Object.values(sessions)) expect((await c.command('l', 'LOGIN alice pw')).pop()).toMatch(/^l OK .* NOTIFY /);
  const mismatches: string[] = [];
  let answerIndex = 0;
  for (const [who, cmd] of recording.steps) {
    const c = sessions[who];
    const tag = `${who.toLowerCase()}${++tags[who]}`;
    let lines: string[];
    if (cmd.endsWith('{LITERAL}')) {
      c.send(`${tag} ${cmd.slice(0, -'{LITERAL}'.length)}{${MESSAGE.length}+}\r\n${MESSAGE}\r\n`);
      lines = await c.until((l) => l.startsWith(`${tag} `));
    } else lines = await c.command(tag, cmd);
    const tagged = lines.pop()!;
    const [status, ...text] = tagged.slice(tag.length + 1).split(' ');
    if (who === 'B') {
      expect([cmd, status]).toEqual([cmd, 'OK']);
      continue;
    }
    if (cmd === 'LOGOUT') continue;
    const index = answerIndex++;
    const want = recording.answers[index]!;
    expect(want.command).toBe(cmd);
    const expected = DIFFERENCES.get(index)?.roost ?? want.untagged;
    const got = { untagged: normalize(lines), status, text: text.join(' ') };
    const exp = { untagged: normalize(expected), status: want.status, text: want.text };
    if (JSON.stringify(got) !== JSON.stringify(exp)) mismatches.push(`#${index} ${cmd.slice(0, 100)}\n  roost:   ${JSON.stringify(got)}\n  dovecot: ${JSON.stringify(exp)}`);
  }
  expect(mismatches.join('\n')).toBe('');
  for (const c of Object.values(sessions)) c.close();
});
