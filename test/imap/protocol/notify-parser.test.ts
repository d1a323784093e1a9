// NOTIFY (RFC 5465 §8) parsed without any storage: filters, events, MessageNew's fetch attributes,
// mUTF-7 mailbox names, and Dovecot 2.3.19's refusals (imap/cmd-notify.c).
import { cmd, err } from './helpers.js';

test('NONE and SET with every filter', () => {
  expect(cmd('a NOTIFY NONE\r\n')).toEqual({ name: 'NOTIFY', spec: null });
  expect(cmd('a notify set\r\n')).toEqual({ name: 'NOTIFY', spec: { status: false, selected: null, groups: [] } });
  expect(
    cmd('a NOTIFY SET STATUS (selected-delayed (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (inboxes (messagenew)) (subscribed (MailboxName)) (subtree (work "a b" &AOk-t&AOk-) (SubscriptionChange)) (mailboxes INBOX (MessageExpunge)) (personal NONE)\r\n'),
  ).toEqual({
    name: 'NOTIFY',
    spec: {
      status: true,
      selected: { delayed: true, events: ['MessageNew', 'MessageExpunge', 'FlagChange'], fetch: [{ type: 'UID' }, { type: 'FLAGS' }] },
      groups: [
        { filter: 'inboxes', events: ['MessageNew'] },
        { filter: 'subscribed', events: ['MailboxName'] },
        { filter: 'subtree', names: ['work', 'a b', 'été'], events: ['SubscriptionChange'] },
        { filter: 'mailboxes', names: ['INBOX'], events: ['MessageExpunge'] },
      ],
    },
  });
  expect(cmd('a NOTIFY SET (selected NONE)\r\n')).toEqual({ name: 'NOTIFY', spec: { status: false, selected: { delayed: false, events: [], fetch: null }, groups: [] } });
  // Known but unsupported events parse: the handler answers NO [BADEVENT].
  expect(cmd('a NOTIFY SET (personal (AnnotationChange ServerMetadataChange))\r\n')).toMatchObject({ spec: { groups: [{ events: ['AnnotationChange', 'ServerMetadataChange'] }] } });
});

test("Dovecot's refusals", () => {
  const invalid = 'BAD Invalid arguments.';
  for (const line of [
    'NOTIFY', 'NOTIFY FOO', 'NOTIFY SET personal (MessageNew)', 'NOTIFY SET (personal)', 'NOTIFY SET (personal ())',
    'NOTIFY SET (personal (Bogus))', 'NOTIFY SET (bogus (MessageNew))', 'NOTIFY SET (subtree (MessageNew))',
    'NOTIFY SET (mailboxes (work other))', 'NOTIFY SET (selected ())', 'NOTIFY SET ("personal" (MessageNew))',
  ]) expect([line, err(`a ${line}\r\n`)]).toEqual([line, invalid]);
  expect(err('a NOTIFY SET (selected (MessageNew))\r\n')).toBe('BAD MessageNew and MessageExpunge must be together');
  expect(err('a NOTIFY SET (selected (MessageExpunge))\r\n')).toBe('BAD MessageNew and MessageExpunge must be together');
  expect(err('a NOTIFY SET (selected (FlagChange))\r\n')).toBe('BAD FlagChange requires MessageNew and MessageExpunge');
  expect(err('a NOTIFY SET (selected NONE) (selected-delayed NONE)\r\n')).toBe('BAD Duplicate selected filter');
  expect(err('a NOTIFY SET (selected (MessageNew (UID BOGUS) MessageExpunge))\r\n')).toBe('BAD Invalid fetch-att list: Unknown parameter: BOGUS');
});
