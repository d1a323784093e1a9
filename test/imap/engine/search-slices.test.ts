// SEARCH on the network thread (DESIGN.md §6): a large body search runs in slices and lets timers
// and other connections run in between, with the same result as one synchronous pass; a message
// expunged by another session during a pause is left out; the text cache survives body-id reuse
// and keeps hitting when a mailbox's text is larger than its budget.
import { evaluateSearch, searchInSlices, type SearchOptions } from '../../../src/imap/commands/search-eval.js';
import { SearchTextCache } from '../../../src/imap/commands/search-text.js';
import { searchKey, testMailbox, type TestMailbox } from './helpers.js';

const COUNT = 2000;

function message(i: number): Buffer {
  const body = Array.from({ length: 20 }, (_, l) => `line ${l} of message ${i}`).join('\r\n');
  const special = i % 100 === 7 ? '\r\nthe Needle-Word is here' : '';
  return Buffer.from(`From: s${i}@example.org\r\nSubject: Message ${i}\r\n\r\n${body}${special}\r\n`);
}

const expected = Array.from({ length: COUNT / 100 }, (_, k) => k * 100 + 8);

function optsFor(box: TestMailbox): SearchOptions {
  const n = box.messages().length;
  return { recentUids: new Set(), highestSeq: n, maxUid: n, returnUids: false };
}

/** Counts turns of the event loop (setImmediate callbacks) until stopped. */
function tickCounter(): { stop(): number } {
  let ticks = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    ticks++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { stop: () => ((running = false), ticks) };
}

describe('searchInSlices', () => {
  let box: TestMailbox;
  beforeAll(() => {
    box = testMailbox();
    box.store.transaction(() => {
      for (let i = 0; i < COUNT; i++) box.append(message(i));
    });
  });
  afterAll(() => box.cleanup());

  test('a cold body search over 2,000 messages lets other work run between slices', async () => {
    const key = searchKey('TEXT "needle-word"');
    const counter = tickCounter();
    // Slices of at most 100 text messages (the clock limit set out of the way): at least 19 pauses.
    const r = await searchInSlices({ store: box.store, textCache: new SearchTextCache() }, box.messages(), key, optsFor(box), {
      sliceMs: 60_000,
      textMessagesPerSlice: 100,
    });
    const ticks = counter.stop();
    expect(r!.numbers).toEqual(expected);
    expect(ticks).toBeGreaterThanOrEqual(COUNT / 100 - 1);
  });

  test('same results as one synchronous pass, warm or cold, with default slicing', async () => {
    const cache = new SearchTextCache();
    for (const criteria of ['TEXT "needle-word"', 'BODY "line 19 of message 1999"', 'OR SUBJECT "message 5" NOT BODY "line 3"', 'UNSEEN FROM s12@']) {
      const key = searchKey(criteria);
      const sync = evaluateSearch({ store: box.store }, box.messages(), key, optsFor(box));
      const counter = tickCounter();
      const sliced = await searchInSlices({ store: box.store, textCache: cache }, box.messages(), key, optsFor(box));
      counter.stop();
      expect(sliced).toEqual(sync);
      expect(await searchInSlices({ store: box.store, textCache: cache }, box.messages(), key, optsFor(box))).toEqual(sync);
    }
  });

  test('stops after a pause when aborted', async () => {
    let pauses = 0;
    const r = await searchInSlices({ store: box.store }, box.messages(), searchKey('BODY nothing'), optsFor(box), {
      textMessagesPerSlice: 10,
      aborted: () => ++pauses === 3,
    });
    expect(r).toBeNull();
    expect(pauses).toBe(3);
  });
});

describe('SEARCH while another session expunges', () => {
  test('messages whose bodies vanished during a pause are left out, the rest is searched', async () => {
    const box = testMailbox();
    try {
      for (let i = 0; i < 300; i++) box.append(message(i));
      const messages = box.messages(); // the view's snapshot, taken before the expunge
      let pauses = 0;
      const r = await searchInSlices({ store: box.store, textCache: new SearchTextCache() }, messages, searchKey('TEXT "needle-word"'), optsFor(box), {
        textMessagesPerSlice: 50,
        pause: async () => {
          // After the first slice (messages 1-50) another session expunges 151-300.
          if (++pauses === 1) box.store.expunge(box.mailboxId, messages.slice(150).map((m) => m.meta.uid));
          await new Promise((resolve) => setImmediate(resolve));
        },
      });
      // 8 was searched before the expunge, 108 after it but still there; 208 vanished.
      expect(r!.numbers).toEqual([8, 108]);
      // NOT BODY does not turn a vanished message into a match.
      const all = await searchInSlices({ store: box.store }, messages, searchKey('NOT BODY "needle-word"'), optsFor(box));
      expect(all!.numbers.length).toBe(148);
    } finally {
      box.cleanup();
    }
  });
});

describe('SearchTextCache', () => {
  test('a body id handed out again after its body was freed does not return the old text', () => {
    const box = testMailbox();
    try {
      const cache = new SearchTextCache();
      box.append(Buffer.from('Subject: first\r\n\r\nold words\r\n'));
      const opts = { recentUids: new Set<number>(), highestSeq: 1, maxUid: 2, returnUids: false };
      expect(evaluateSearch({ store: box.store, textCache: cache }, box.messages(), searchKey('BODY old'), opts).numbers).toEqual([1]);
      const firstBody = box.messages()[0]!.meta.bodyId;
      box.store.expunge(box.mailboxId, [1]);
      box.append(Buffer.from('Subject: second\r\n\r\nnew words\r\n'));
      const now = box.messages();
      expect(now[0]!.meta.bodyId).toBe(firstBody); // SQLite reused the freed rowid
      expect(evaluateSearch({ store: box.store, textCache: cache }, now, searchKey('BODY old'), opts).numbers).toEqual([]);
      expect(evaluateSearch({ store: box.store, textCache: cache }, now, searchKey('BODY new'), opts).numbers).toEqual([1]);
    } finally {
      box.cleanup();
    }
  });

  test('a mailbox larger than the budget still hits on a repeated search, within the budget', () => {
    const box = testMailbox();
    try {
      box.store.transaction(() => {
        for (let i = 0; i < 200; i++) box.append(message(i));
      });
      const budget = 40_000; // about a third of the mailbox's text
      const cache = new SearchTextCache(budget);
      const opened: number[] = [];
      const counting = {
        openBody: (id: number) => { opened.push(id); return box.store.openBody(id); },
        getMimeStructure: (id: number) => box.store.getMimeStructure(id),
        setMimeStructure: (id: number, s: unknown) => box.store.setMimeStructure(id, s),
      };
      const opts = { recentUids: new Set<number>(), highestSeq: 200, maxUid: 200, returnUids: false };
      const key = searchKey('TEXT "needle-word"');
      expect(evaluateSearch({ store: counting, textCache: cache }, box.messages(), key, opts).numbers).toEqual([8, 108]);
      expect(opened.length).toBe(200);
      expect(cache.size).toBeLessThanOrEqual(budget);
      opened.length = 0;
      expect(evaluateSearch({ store: counting, textCache: cache }, box.messages(), key, opts).numbers).toEqual([8, 108]);
      // Plain LRU would read all 200 again; the messages that fit stay cached.
      expect(opened.length).toBeLessThan(160);
      expect(cache.size).toBeLessThanOrEqual(budget);
    } finally {
      box.cleanup();
    }
  });
});
