// FETCH/SEARCH engine benchmark over a 10,000-message mailbox: `FETCH 1:* (UID FLAGS RFC822.SIZE)`
// (storage listing + rendering), `FETCH 1:* (ENVELOPE)`, `SEARCH UNSEEN LARGER n` and
// `SEARCH TEXT "word"` cold and with a warm text cache, in one pass and in time slices as the
// server runs it (with the longest event-loop stall meanwhile). Prints timings; asserts nothing.
// Run: npm run build && node dist/bench/imap-engine.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { logHub } from '../src/log/logger.js';
import { parseMessage } from '../src/mime/parser.js';
import { openSqliteUserStore as openSyncUserStore } from '../src/storage/sqlite/index.js';
import { planFetch, renderFetchAll, renderFetchFlagsOnly } from '../src/imap/commands/fetch-items.js';
import { ResponseBatcher, type ResponseSink } from '../src/imap/commands/fetch-output.js';
import { evaluateSearch, searchInSlices } from '../src/imap/commands/search-eval.js';
import { SearchTextCache } from '../src/imap/commands/search-text.js';
import type { FetchAttribute, SearchKey } from '../src/imap/protocol/commands.js';

const COUNT = 10_000;
logHub.setDefaultOutput(false);
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-engine-'));
const store = openSyncUserStore({ username: 'bench', home: dir, dbPath: join(dir, 'mail.db'), separator: '/', settings: { durability: 'normal' } });
const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];

function message(i: number): Buffer {
  const body = Array.from({ length: 40 }, (_, l) => `${words[(i + l) % 10]} line ${l} of message ${i} with some filler text to search through`).join('\r\n');
  const special = i % 1000 === 7 ? '\r\nthe needle-word appears here' : '';
  return Buffer.from(`From: Sender ${i} <s${i}@example.org>\r\nTo: user@example.org\r\nSubject: Bench message ${i}\r\n` +
    `Date: Mon, 3 Mar 2025 10:15:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}${special}\r\n`);
}

let t = performance.now();
store.transaction(() => {
  for (let i = 0; i < COUNT; i++) {
    const content = message(i);
    store.append('INBOX', { content, mimeStructure: parseMessage(content), flags: i % 3 ? ['\\Seen'] : [] });
  }
});
console.log(`setup: ${COUNT} messages appended in ${(performance.now() - t).toFixed(0)} ms`);
const mailboxId = store.getMailbox('INBOX')!.id;

let bytesOut = 0;
const sink: ResponseSink = { write: (c) => { bytesOut += c.length; return true; }, waitForDrain: async () => undefined };
const attrs = (...types: Array<'UID' | 'FLAGS' | 'RFC822.SIZE' | 'ENVELOPE'>): FetchAttribute[] => types.map((type) => ({ type }));

async function fetchAll(label: string, attributes: FetchAttribute[]): Promise<void> {
  for (let round = 0; round < 3; round++) {
    bytesOut = 0;
    const start = performance.now();
    const list = store.listMessages(mailboxId);
    const listed = performance.now();
    const messages = list.map((meta, i) => ({ seq: i + 1, meta }));
    const out = new ResponseBatcher(sink);
    await renderFetchAll({ store, out, recentUids: new Set() }, messages, planFetch(attributes, { includeUid: false, includeModseq: false }));
    await out.flush();
    const end = performance.now();
    console.log(`FETCH 1:* ${label} round ${round + 1}: ${(end - start).toFixed(1)} ms total (listMessages ${(listed - start).toFixed(1)} ms, render ${(end - listed).toFixed(1)} ms, ${(bytesOut / 1024).toFixed(0)} KB)`);
  }
}

function searchMessages() {
  const list = store.listMessages(mailboxId);
  return { list, messages: list.map((meta, i) => ({ seq: i + 1, meta })) };
}

/** One synchronous pass: the event loop is blocked for the whole search. */
function search(label: string, key: SearchKey, cache?: SearchTextCache): void {
  const start = performance.now();
  const { list, messages } = searchMessages();
  const r = evaluateSearch({ store, textCache: cache }, messages, key, { recentUids: new Set(), highestSeq: list.length, maxUid: list[list.length - 1]!.uid, returnUids: false });
  console.log(`SEARCH ${label}, one pass: ${(performance.now() - start).toFixed(1)} ms, ${r.numbers.length} matches${cache ? `, cache ${(cache.size / 1048576).toFixed(1)} MB` : ''}`);
}

/** As the server runs it (searchInSlices), with the longest gap between two event-loop turns. */
async function searchSliced(label: string, key: SearchKey, cache?: SearchTextCache): Promise<void> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let longestGap = 0;
  let last = performance.now();
  let running = true;
  const tick = () => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  delay.enable();
  const start = performance.now();
  const { list, messages } = searchMessages();
  const r = await searchInSlices({ store, textCache: cache }, messages, key, { recentUids: new Set(), highestSeq: list.length, maxUid: list[list.length - 1]!.uid, returnUids: false });
  const ms = performance.now() - start;
  running = false;
  delay.disable();
  console.log(
    `SEARCH ${label}, sliced: ${ms.toFixed(1)} ms, ${r!.numbers.length} matches${cache ? `, cache ${(cache.size / 1048576).toFixed(1)} MB` : ''}; ` +
      `longest event-loop stall ${longestGap.toFixed(1)} ms (loop delay max ${(delay.max / 1e6).toFixed(1)} ms)`,
  );
}

search('UNSEEN LARGER 3000', { type: 'and', keys: [{ type: 'flag', flag: '\\Seen', set: false }, { type: 'size', op: 'larger', size: 3000 }] });
search('SUBJECT "message 9999" (no cache)', { type: 'header', field: 'subject', value: 'message 9999' });
search('TEXT "needle-word" (no cache)', { type: 'text', value: 'needle-word' });
const text: SearchKey = { type: 'text', value: 'needle-word' };
let cache = new SearchTextCache(256 * 1024 * 1024);
search('TEXT "needle-word" (cold cache)', text, cache);
search('TEXT "needle-word" (warm cache)', text, cache);
search('BODY "foxtrot line 3" (warm cache)', { type: 'body', value: 'foxtrot line 3' }, cache);
for (let round = 0; round < 2; round++) {
  cache = new SearchTextCache(256 * 1024 * 1024);
  await searchSliced('TEXT "needle-word" (cold cache)', text, cache);
  await searchSliced('TEXT "needle-word" (warm cache)', text, cache);
}
// The server's default budget (32 MB) holds part of this mailbox's text: later searches hit that part.
cache = new SearchTextCache();
await searchSliced('TEXT "needle-word" (cold, 32 MB cache)', text, cache);
await searchSliced('TEXT "needle-word" (again, 32 MB cache)', text, cache);
store.close();
rmSync(dir, { recursive: true, force: true });
