// The in-memory preview store behind PREVIEW (LAZY): bounded in entries and in queued work.
import { PreviewCache } from '../../../src/imap/commands/preview-cache.js';
import type { MessageBodyStore } from '../../../src/imap/commands/fetch-mime.js';
import type { MessageMeta } from '../../../src/storage/types.js';
import { waitUntil } from '../../poll.js';

const meta = (n: number) => ({ guid: `g${n}`, bodyId: n }) as unknown as MessageMeta;
/** A store whose bodies cannot be read: the background work fails and must stop, not spin. */
const unreadable = { openBody: () => { throw new Error('closed'); }, getMimeStructure: () => undefined, setMimeStructure: () => undefined } as unknown as MessageBodyStore;

test('keeps at most maxEntries previews, the oldest go first', () => {
  const cache = new PreviewCache(unreadable, 2, 10);
  cache.set('a', 'A');
  cache.set('b', 'B');
  expect(cache.compute(meta(1), () => 'one')).toBe('one');
  expect([cache.get('a'), cache.get('b'), cache.get('g1')]).toEqual([undefined, 'B', 'one']);
  // Known previews are not computed again.
  expect(cache.compute(meta(1), () => 'other')).toBe('one');
});

test('queues at most maxQueued messages; a store that fails empties the queue', async () => {
  const cache = new PreviewCache(unreadable, 10, 3);
  for (let i = 0; i < 5; i++) cache.computeLater(meta(i));
  expect(cache.queued).toBe(3);
  await waitUntil('the queue to empty', () => cache.queued === 0);
  expect(cache.get('g0')).toBeUndefined();
});
