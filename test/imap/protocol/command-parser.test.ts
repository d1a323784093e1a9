import { expandSequenceSet } from '../../../src/imap/protocol/index.js';
import { cmd, err, parseRaw } from './helpers.js';

describe('simple commands', () => {
  test.each(['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'IDLE', 'NAMESPACE'])('%s', (name) => {
    expect(cmd(`a ${name.toLowerCase()}\r\n`)).toEqual({ name });
    expect(err(`a ${name} extra\r\n`)).toBe('BAD Invalid arguments.');
  });

  test('unknown command', () => {
    expect(err('a FROBNICATE x\r\n')).toBe('BAD Unknown command.');
    expect(err('a XAPPLEPUSHSERVICE aps-version 2\r\n')).toBe('BAD Unknown command.');
    expect(cmd('a COMPRESS deflate\r\n')).toEqual({ name: 'COMPRESS', mechanism: 'DEFLATE' });
    expect(err('a COMPRESS\r\n')).toBe('BAD Invalid arguments.');
    expect(err('a UID FROB 1\r\n')).toBe('BAD Unknown command.');
  });

  test('the tag is kept on success and on error', () => {
    const ok = parseRaw('x.1 NOOP\r\n');
    expect(ok.ok && ok.tag).toBe('x.1');
    const bad = parseRaw('x.2 LOGIN\r\n');
    expect(!bad.ok && bad.error.tag).toBe('x.2');
  });
});

describe('authentication', () => {
  test('LOGIN with atoms, quoted strings and literals (split byte by byte)', () => {
    expect(cmd('a LOGIN alice "pa ss"\r\n')).toEqual({ name: 'LOGIN', username: 'alice', password: 'pa ss' });
    const r = parseRaw('a LOGIN {5}\r\nalice {4}\r\n"x"y\r\n', {}, true);
    expect(r.ok && r.command).toEqual({ name: 'LOGIN', username: 'alice', password: '"x"y' });
    expect(err('a LOGIN alice\r\n')).toBe('BAD Invalid arguments.');
    expect(cmd('a LOGIN alice pa[ss]w[rd\r\n')).toMatchObject({ password: 'pa[ss]w[rd' });
  });

  test('AUTHENTICATE with and without SASL-IR', () => {
    expect(cmd('a AUTHENTICATE plain\r\n')).toEqual({ name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: null });
    expect(cmd('a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n')).toEqual({ name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHNlY3JldA==' });
    expect(cmd('a AUTHENTICATE EXTERNAL =\r\n')).toMatchObject({ initialResponse: '=' });
    expect(err('a AUTHENTICATE PLAIN !!\r\n')).toBe('BAD Invalid base64 data in initial response');
  });
});

describe('mailbox commands', () => {
  test('SELECT/EXAMINE with CONDSTORE, INBOX normalised, mUTF-7 decoded', () => {
    expect(cmd('a SELECT inbox\r\n')).toEqual({ name: 'SELECT', mailbox: 'INBOX', condstore: false, qresync: null });
    expect(cmd('a EXAMINE "Entw&APw-rfe" (CONDSTORE)\r\n')).toEqual({ name: 'EXAMINE', mailbox: 'Entwürfe', condstore: true, qresync: null });
    expect(err('a SELECT INBOX (QRESYNC-X)\r\n')).toBe('BAD Unknown SELECT parameter');
  });

  test('SELECT/EXAMINE (QRESYNC (...)): RFC 7162 §3.2.5 with Dovecot\'s error texts', () => {
    expect(cmd('a SELECT INBOX (QRESYNC (67890007 715194045007))\r\n')).toMatchObject({ qresync: { uidValidity: 67890007, modseq: 715194045007, knownUids: null, seqMatch: null } });
    const full = cmd('a SELECT INBOX (CONDSTORE QRESYNC (67890007 5 41:211,214:541 (1:3 1,2,6)))\r\n');
    expect(full).toMatchObject({ condstore: true, qresync: { uidValidity: 67890007, modseq: 5, knownUids: { kind: 'ranges' }, seqMatch: { seqs: { kind: 'ranges' }, uids: { kind: 'ranges' } } } });
    expect(err('a SELECT INBOX (QRESYNC (67890007))\r\n')).toBe('BAD Invalid QRESYNC parameters');
    expect(err('a SELECT INBOX (QRESYNC (0 5))\r\n')).toBe('BAD Invalid QRESYNC parameters');
    expect(err('a SELECT INBOX (QRESYNC (1 5 1:x))\r\n')).toBe('BAD Invalid QRESYNC known-uids');
    expect(err('a SELECT INBOX (QRESYNC (1 5 1:3 (1:2)))\r\n')).toBe('BAD Invalid QRESYNC known-sequence-set');
    expect(err('a SELECT INBOX (QRESYNC 1 5)\r\n')).toBe('BAD Invalid QRESYNC parameters');
  });

  test('an invalid mUTF-7 name is refused with NO, as Dovecot does', () => {
    expect(err('a SELECT "Entw&APw"\r\n')).toBe('NO Mailbox name is not valid mUTF-7');
    expect(err('a CREATE "&AGE-"\r\n')).toBe('NO Mailbox name is not valid mUTF-7');
  });

  test('UTF8=ACCEPT takes names as UTF-8', () => {
    expect(cmd('a SELECT "Entwürfe"\r\n', { utf8Accept: true })).toMatchObject({ mailbox: 'Entwürfe' });
  });

  test('CREATE with USE (RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE', () => {
    expect(cmd('a CREATE Sent (USE (\\Sent))\r\n')).toEqual({ name: 'CREATE', mailbox: 'Sent', specialUse: ['\\Sent'] });
    expect(cmd('a CREATE "a/b"\r\n')).toEqual({ name: 'CREATE', mailbox: 'a/b', specialUse: [] });
    expect(err('a CREATE x (FOO (\\Sent))\r\n')).toBe('BAD Unknown CREATE parameter');
    expect(cmd('a DELETE x\r\n')).toEqual({ name: 'DELETE', mailbox: 'x' });
    expect(cmd('a RENAME x "y z"\r\n')).toEqual({ name: 'RENAME', from: 'x', to: 'y z' });
    expect(cmd('a SUBSCRIBE x\r\n')).toEqual({ name: 'SUBSCRIBE', mailbox: 'x' });
    expect(cmd('a UNSUBSCRIBE {1}\r\nx\r\n')).toEqual({ name: 'UNSUBSCRIBE', mailbox: 'x' });
    expect(err('a RENAME x\r\n')).toBe('BAD Invalid arguments.');
  });

  test('LIST basic and extended (RFC 5258, RFC 5819), LSUB', () => {
    expect(cmd('a LIST "" %\r\n')).toEqual({
      name: 'LIST',
      reference: '',
      patterns: ['%'],
      selection: { subscribed: false, remote: false, recursiveMatch: false, specialUse: false },
      returns: { subscribed: false, children: false, specialUse: false, status: null },
      extended: false,
    });
    expect(cmd('a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Archive/%") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n')).toEqual({
      name: 'LIST',
      reference: '',
      patterns: ['INBOX', 'Archive/%'],
      selection: { subscribed: true, remote: false, recursiveMatch: true, specialUse: false },
      returns: { subscribed: false, children: true, specialUse: true, status: ['MESSAGES', 'UNSEEN'] },
      extended: true,
    });
    expect(cmd('a LIST (SPECIAL-USE) "" *\r\n')).toMatchObject({ selection: { specialUse: true }, extended: true });
    expect(cmd('a LIST "" * RETURN (SUBSCRIBED)\r\n')).toMatchObject({ returns: { subscribed: true } });
    expect(err('a LIST (RECURSIVEMATCH) "" *\r\n')).toBe('BAD Recursive match without a selection option');
    expect(err('a LIST (BOGUS) "" *\r\n')).toBe('BAD List selection options contain invalid option');
    expect(err('a LIST "" * RETURN (BOGUS)\r\n')).toBe('BAD Unknown return option');
    expect(cmd('a LSUB "" "*"\r\n')).toEqual({ name: 'LSUB', reference: '', pattern: '*' });
  });

  test('STATUS items', () => {
    expect(cmd('a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)\r\n')).toEqual({
      name: 'STATUS',
      mailbox: 'INBOX',
      items: ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE'],
    });
    expect(err('a STATUS INBOX (MESSAGES BOGUS)\r\n')).toBe('BAD Invalid status item BOGUS');
    expect(err('a STATUS INBOX MESSAGES\r\n')).toBe('BAD Invalid arguments.');
  });
});

describe('APPEND', () => {
  test('flags, date-time and a literal split across chunks', async () => {
    const r = parseRaw('a APPEND Drafts (\\Seen \\draft $Label) "05-Nov-2026 10:00:00 +0100" {5}\r\nhello\r\n', {}, true);
    if (!r.ok || r.command.name !== 'APPEND') throw new Error('not parsed');
    const [msg] = r.command.messages;
    expect(r.command.mailbox).toBe('Drafts');
    expect(msg?.flags).toEqual(['\\Seen', '\\Draft', '$Label']);
    expect(msg?.internalDate?.date.toISOString()).toBe('2026-11-05T09:00:00.000Z');
    expect(msg?.internalDate?.timezoneOffsetMinutes).toBe(60);
    expect((await msg!.body.toBuffer()).toString()).toBe('hello');
  });

  test('MULTIAPPEND and literal8', async () => {
    const c = cmd('a APPEND INBOX {1+}\r\nx (\\Flagged) ~{2+}\r\nyz\r\n');
    if (c.name !== 'APPEND') throw new Error();
    expect(c.messages).toHaveLength(2);
    expect(c.messages.map((m) => [m.flags, m.binary, m.body.size])).toEqual([
      [[], false, 1],
      [['\\Flagged'], true, 2],
    ]);
  });

  test('errors', () => {
    expect(err('a APPEND INBOX (\\Seen) NIL\r\n')).toBe('BAD Invalid arguments.');
    expect(err('a APPEND INBOX "not a date"\r\n')).toBe('BAD Invalid internal date.');
    expect(err('a APPEND INBOX "31-Feb-2026 10:00:00 +0000" {1+}\r\nx\r\n')).toBe('BAD Invalid internal date.');
    expect(err('a APPEND INBOX (\\Bogus) {1+}\r\nx\r\n')).toBe('BAD Invalid system flag \\Bogus');
    expect(err('a APPEND INBOX (\\Recent) {1+}\r\nx\r\n')).toBe('BAD Invalid system flag \\Recent');
  });
});

describe('FETCH', () => {
  test('macros expand', () => {
    expect(cmd('a FETCH 1 ALL\r\n')).toMatchObject({ attributes: [{ type: 'FLAGS' }, { type: 'INTERNALDATE' }, { type: 'RFC822.SIZE' }, { type: 'ENVELOPE' }] });
    expect(cmd('a FETCH 1 fast\r\n')).toMatchObject({ attributes: [{ type: 'FLAGS' }, { type: 'INTERNALDATE' }, { type: 'RFC822.SIZE' }] });
    expect(cmd('a FETCH 1 FULL\r\n')).toMatchObject({ attributes: [{}, {}, {}, { type: 'ENVELOPE' }, { type: 'BODY' }] });
    expect(err('a FETCH 1 (ALL)\r\n')).toBe('BAD Unknown parameter ALL');
  });

  test('every simple attribute', () => {
    const c = cmd('a FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE UID MODSEQ RFC822 RFC822.HEADER RFC822.TEXT)\r\n');
    expect(c.name === 'FETCH' && c.attributes.map((a) => a.type)).toEqual([
      'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT',
    ]);
  });

  test('BODY[section]<partial> forms', () => {
    const c = cmd('a UID FETCH 1:3,7 (BODY[] BODY.PEEK[HEADER.FIELDS (From "To")]<0.100> BODY[1.2.MIME] body[2.text] BODY[HEADER.FIELDS.NOT (Received)] BODY[3]<10.5> BODY[TEXT])\r\n');
    if (c.name !== 'FETCH') throw new Error();
    expect(c.uid).toBe(true);
    expect(c.attributes).toEqual([
      { type: 'BODY[]', peek: false, section: { part: [], specifier: null, fields: [] }, partial: null, responseName: 'BODY[]' },
      { type: 'BODY[]', peek: true, section: { part: [], specifier: 'HEADER.FIELDS', fields: ['From', 'To'] }, partial: { offset: 0, length: 100 }, responseName: 'BODY[HEADER.FIELDS (From To)]<0>' },
      { type: 'BODY[]', peek: false, section: { part: [1, 2], specifier: 'MIME', fields: [] }, partial: null, responseName: 'BODY[1.2.MIME]' },
      { type: 'BODY[]', peek: false, section: { part: [2], specifier: 'TEXT', fields: [] }, partial: null, responseName: 'BODY[2.TEXT]' },
      { type: 'BODY[]', peek: false, section: { part: [], specifier: 'HEADER.FIELDS.NOT', fields: ['Received'] }, partial: null, responseName: 'BODY[HEADER.FIELDS.NOT (Received)]' },
      { type: 'BODY[]', peek: false, section: { part: [3], specifier: null, fields: [] }, partial: { offset: 10, length: 5 }, responseName: 'BODY[3]<10>' },
      { type: 'BODY[]', peek: false, section: { part: [], specifier: 'TEXT', fields: [] }, partial: null, responseName: 'BODY[TEXT]' },
    ]);
  });

  test('BINARY, BINARY.PEEK, BINARY.SIZE', () => {
    const c = cmd('a FETCH 1 (BINARY[1] BINARY.PEEK[1.2]<0.10> BINARY.SIZE[2])\r\n');
    expect(c.name === 'FETCH' && c.attributes).toEqual([
      { type: 'BINARY[]', peek: false, part: [1], partial: null, responseName: 'BINARY[1]' },
      { type: 'BINARY[]', peek: true, part: [1, 2], partial: { offset: 0, length: 10 }, responseName: 'BINARY[1.2]<0>' },
      { type: 'BINARY.SIZE', part: [2], responseName: 'BINARY.SIZE[2]' },
    ]);
  });

  test('CHANGEDSINCE and VANISHED modifiers (RFC 7162)', () => {
    expect(cmd('a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n')).toMatchObject({ changedSince: 12345, vanished: true });
    expect(cmd('a FETCH 1:* FLAGS (CHANGEDSINCE 7)\r\n')).toMatchObject({ changedSince: 7, vanished: false, uid: false });
    expect(err('a FETCH 1:* FLAGS (CHANGEDSINCE 7 VANISHED)\r\n')).toBe('BAD Unknown FETCH modifier');
    expect(err('a UID FETCH 1:* FLAGS (VANISHED)\r\n')).toBe('BAD VANISHED used without CHANGEDSINCE');
    expect(err('a FETCH 1 FLAGS (CHANGEDSINCE x)\r\n')).toBe('BAD Invalid CHANGEDSINCE modseq.');
  });

  test('bad attributes and sections', () => {
    expect(err('a FETCH 1 (FLAGS BOGUS)\r\n')).toBe('BAD Unknown parameter BOGUS');
    expect(err('a FETCH 1 BODY[MIME]\r\n')).toBe('BAD Invalid BODY[] section BODY[MIME]');
    expect(err('a FETCH 1 BODY[0]\r\n')).toBe('BAD Invalid BODY[] section BODY[0]');
    expect(err('a FETCH 1 BODY[HEADER.FIELDS]\r\n')).toBe('BAD Invalid BODY[] section BODY[HEADER.FIELDS]');
    expect(err('a FETCH 1 BODY[]<5.0>\r\n')).toBe('BAD Invalid partial BODY[]<5.0>');
    expect(err('a FETCH 1 BODY[HEADER\r\n')).toBe('BAD Unknown parameter BODY[HEADER');
    expect(err('a FETCH 1 ()\r\n')).toBe('BAD Invalid arguments.');
  });

  test('sequence sets are checked', () => {
    expect(err('a FETCH 0 FLAGS\r\n')).toBe('BAD Invalid messageset');
    expect(err('a FETCH 1:0 FLAGS\r\n')).toBe('BAD Invalid messageset');
    expect(err('a FETCH 1,,2 FLAGS\r\n')).toBe('BAD Invalid messageset');
    expect(err('a UID FETCH 1:x FLAGS\r\n')).toBe('BAD Invalid uidset');
    const c = cmd('a FETCH 4:2,$ UID\r\n'.replace(',$', ''));
    expect(c.name === 'FETCH' && expandSequenceSet(c.set, 10)).toEqual([2, 3, 4]);
    expect(cmd('a UID FETCH $ UID\r\n')).toMatchObject({ set: { kind: 'saved' } });
  });
});

describe('STORE', () => {
  test('FLAGS / +FLAGS / -FLAGS, .SILENT, lists or bare flags, UNCHANGEDSINCE', () => {
    expect(cmd('a STORE 1:2 +FLAGS (\\Seen \\deleted)\r\n')).toEqual({
      name: 'STORE', uid: false, set: { kind: 'ranges', ranges: [{ from: 1, to: 2 }] }, action: 'add', silent: false, flags: ['\\Seen', '\\Deleted'], unchangedSince: null,
    });
    expect(cmd('a UID STORE 5 -FLAGS.SILENT \\Flagged $Junk\r\n')).toMatchObject({ uid: true, action: 'remove', silent: true, flags: ['\\Flagged', '$Junk'] });
    expect(cmd('a STORE 1 FLAGS ()\r\n')).toMatchObject({ action: 'set', flags: [] });
    expect(cmd('a STORE 1 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n')).toMatchObject({ unchangedSince: 320162338, silent: true });
  });

  test('errors', () => {
    expect(err('a STORE 1 +FLAGZ (\\Seen)\r\n')).toBe('BAD Invalid STORE parameter +FLAGZ');
    expect(err('a STORE 1 +FLAGS (\\Recent)\r\n')).toBe('BAD Invalid system flag \\Recent');
    expect(err('a STORE 1 +FLAGS\r\n')).toBe('BAD Invalid arguments.');
    expect(err('a STORE 1 (FOO 1) FLAGS ()\r\n')).toBe('BAD Unknown STORE modifier FOO');
    expect(err('a STORE 1 FLAGS (\\Seen) extra\r\n')).toBe('BAD Invalid arguments.');
  });
});

describe('COPY, MOVE, EXPUNGE', () => {
  test('forms', () => {
    expect(cmd('a COPY 1:* Trash\r\n')).toEqual({ name: 'COPY', uid: false, set: { kind: 'ranges', ranges: [{ from: 1, to: '*' }] }, mailbox: 'Trash' });
    expect(cmd('a UID MOVE 3,5 "Archive/2026"\r\n')).toMatchObject({ name: 'MOVE', uid: true, mailbox: 'Archive/2026' });
    expect(cmd('a EXPUNGE\r\n')).toEqual({ name: 'EXPUNGE', uid: false });
    expect(cmd('a UID EXPUNGE 4:7\r\n')).toEqual({ name: 'EXPUNGE', uid: true, set: { kind: 'ranges', ranges: [{ from: 4, to: 7 }] } });
    expect(err('a UID EXPUNGE\r\n')).toBe('BAD Invalid arguments.');
    expect(err('a COPY 1\r\n')).toBe('BAD Invalid arguments.');
  });
});

describe('ID, ENABLE, metadata', () => {
  test('ID with parameters or NIL', () => {
    expect(cmd('a ID ("name" "imapflow" "version" NIL)\r\n')).toEqual({ name: 'ID', params: [['name', 'imapflow'], ['version', null]] });
    expect(cmd('a ID NIL\r\n')).toEqual({ name: 'ID', params: null });
    expect(err('a ID ("name")\r\n')).toBe('BAD Invalid arguments.');
    expect(err(`a ID ("${'k'.repeat(31)}" "v")\r\n`)).toBe('BAD Invalid arguments.');
  });

  test('ENABLE', () => {
    expect(cmd('a ENABLE CONDSTORE utf8=accept\r\n')).toEqual({ name: 'ENABLE', capabilities: ['CONDSTORE', 'UTF8=ACCEPT'] });
    expect(err('a ENABLE\r\n')).toBe('BAD Invalid arguments.');
  });

  test('GETMETADATA with options, one entry or a list', () => {
    expect(cmd('a GETMETADATA "" /shared/comment\r\n')).toEqual({ name: 'GETMETADATA', mailbox: '', entries: ['/shared/comment'], maxSize: null, depth: '0' });
    expect(cmd('a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX (/private/comment /shared/vendor/x)\r\n')).toEqual({
      name: 'GETMETADATA', mailbox: 'INBOX', entries: ['/private/comment', '/shared/vendor/x'], maxSize: 1024, depth: 'infinity',
    });
    expect(err('a GETMETADATA (DEPTH 2) INBOX /private/x\r\n')).toBe('BAD Invalid value for DEPTH option');
    expect(err('a GETMETADATA INBOX /comment\r\n')).toBe('BAD Entry name must begin with /private or /shared');
    expect(err('a GETMETADATA INBOX /private/a//b\r\n')).toBe('BAD Invalid entry name');
  });

  test('SETMETADATA values NIL, string and literal', () => {
    const c = cmd('a SETMETADATA INBOX (/private/comment "hi" /shared/x NIL /private/y {4}\r\na\r\nb)\r\n');
    expect(c).toEqual({
      name: 'SETMETADATA',
      mailbox: 'INBOX',
      entries: [
        { entry: '/private/comment', value: Buffer.from('hi') },
        { entry: '/shared/x', value: null },
        { entry: '/private/y', value: Buffer.from('a\r\nb') },
      ],
    });
    expect(err('a SETMETADATA INBOX (/private/comment)\r\n')).toBe('BAD Invalid arguments.');
  });
});
