// SelectedMailbox.open builds its view from the store's openMailboxView (one read in the SQLite
// backend): the view must be the same as one built from the contract's single calls, status() +
// listMessageFlags() + claimRecent(), and \Recent must be claimed the same way.
import { parseMessage } from '../../../src/mime/parser.js';
import { SelectedMailbox } from '../../../src/imap/selected-mailbox.js';
import { FlagSets, MessageColumns } from '../../../src/storage/mailbox-index.js';
import type { MailboxViewSnapshot, SyncUserStore } from '../../../src/storage/types.js';
import { testMailbox, type TestMailbox } from './helpers.js';

/** The store with openMailboxView made of the single calls (what a backend could do without a combined read). */
function generic(store: SyncUserStore): SyncUserStore {
  const openMailboxView = (name: string, claim: boolean): MailboxViewSnapshot => {
    const status = store.status(name);
    const info = store.getMailbox(name)!;
    const list = store.listMessageFlags(info.id);
    const flagSets = new FlagSets();
    const columns = new MessageColumns(flagSets);
    for (const m of list) columns.push(m.uid, flagSets.idOf(m.flags), m.modseq, m.size);
    return {
      info,
      columns,
      keywordsInUse: columns.keywordsInUse(),
      recentCount: status.recent,
      claimedRecent: claim ? store.claimRecent(info.id) : [],
      firstUnseenSeq: status.firstUnseenSeq,
      keywords: status.keywords,
    };
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'openMailboxView') return openMailboxView;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function fill(store: SyncUserStore, name: string): void {
  store.createMailbox(name);
  const id = store.getMailbox(name)!.id;
  const flagSets = [['\\Seen'], [], ['\\Seen', '\\Flagged', 'work'], ['$Junk'], ['\\Deleted', '\\Seen'], ['work', 'later'], ['\\Answered', '\\Seen']];
  for (let i = 0; i < 40; i++) {
    const content = Buffer.from(`Subject: m${i}\r\n\r\n${'x'.repeat(i)}\r\n`);
    store.append(name, { content, mimeStructure: parseMessage(content), flags: flagSets[i % flagSets.length]! });
  }
  // A registered keyword no message carries any more, and gaps in the UIDs.
  store.storeFlags(id, { uids: [4], operation: 'add', flags: ['unused'] });
  store.storeFlags(id, { uids: [4], operation: 'remove', flags: ['unused'] });
  store.expunge(id, [1, 2, 9, 17]);
  store.claimRecent(id);
  for (let i = 0; i < 3; i++) {
    const content = Buffer.from(`Subject: new${i}\r\n\r\nnew\r\n`);
    store.append(name, { content, mimeStructure: parseMessage(content), flags: i === 1 ? ['\\Seen', 'fresh'] : [] });
  }
}

function snapshot(view: SelectedMailbox) {
  return {
    name: view.name,
    count: view.count,
    recentCount: view.recentCount,
    recent: [...view.recentUids].sort((a, b) => a - b),
    flagList: view.flagList(),
    permanentFlagList: view.permanentFlagList(),
    firstUnseen: view.firstUnseenAtOpen,
    uidValidity: view.uidValidity,
    uidNext: view.uidNext,
    highestModseq: view.highestModseq,
    uids: [...view.allUids],
    flags: view.allUids.map((u) => view.flagsOf(u).join(' ')),
    modseqs: view.allUids.map((u) => view.modseqOf(u)),
    sizes: view.allUids.map((_, i) => view.sizeAt(i + 1)),
    deleted: view.deletedUids(),
  };
}

describe('SelectedMailbox.open from openMailboxView', () => {
  let box: TestMailbox;
  beforeEach(() => {
    box = testMailbox();
    fill(box.store, 'A');
    fill(box.store, 'B');
  });
  afterEach(() => box.cleanup());

  it('builds the same view as the generic path, for EXAMINE and SELECT', () => {
    const store = box.store;
    const uidValidity = (n: string) => store.getMailbox(n)!.uidValidity;
    const norm = (s: ReturnType<typeof snapshot>, n: string) => ({ ...s, name: 'X', uidValidity: s.uidValidity - uidValidity(n) });
    // EXAMINE leaves \Recent where it is.
    const fastRo = snapshot(SelectedMailbox.open(store, 'A', true));
    const slowRo = snapshot(SelectedMailbox.open(generic(store), 'B', true));
    expect(norm(fastRo, 'A')).toEqual(norm(slowRo, 'B'));
    expect(fastRo.recentCount).toBe(3);
    expect(fastRo.firstUnseen).toBeGreaterThan(0);
    // SELECT claims it.
    const fast = snapshot(SelectedMailbox.open(store, 'A', false));
    const slow = snapshot(SelectedMailbox.open(generic(store), 'B', false));
    expect(norm(fast, 'A')).toEqual(norm(slow, 'B'));
    expect(fast.recent).toEqual([41, 42, 43]);
    expect(fast.flags.at(-1)).toBe('\\Recent');
    // Claimed for good: the next SELECT (either path) gets none.
    expect(SelectedMailbox.open(store, 'B', false).recentCount).toBe(0);
    expect(SelectedMailbox.open(generic(store), 'A', false).recentCount).toBe(0);
    expect(store.status('A').recent).toBe(0);
  });

  it('claimRecent takes only the \\Recent messages, in UID order', () => {
    const store = box.store;
    const id = store.getMailbox('A')!.id;
    expect(store.claimRecent(id)).toEqual([41, 42, 43]);
    expect(store.claimRecent(id)).toEqual([]);
    const content = Buffer.from('Subject: later\r\n\r\nlater\r\n');
    store.append('A', { content, mimeStructure: parseMessage(content) });
    expect(store.claimRecent(id)).toEqual([44]);
    expect(store.status('A').recent).toBe(0);
  });

  it('an empty mailbox and a missing one', () => {
    const store = box.store;
    store.createMailbox('Empty');
    const view = SelectedMailbox.open(store, 'Empty', false);
    expect([view.count, view.recentCount, view.firstUnseenAtOpen, view.flagList()]).toEqual([0, 0, 0, SelectedMailbox.open(generic(store), 'Empty', false).flagList()]);
    expect(() => SelectedMailbox.open(store, 'Nope', false)).toThrow(expect.objectContaining({ code: 'NONEXISTENT' }));
  });
});
