// The storage sync bridge's test scenario (test/storage/sync-bridge*.test.ts): every contract call
// on a store, with what each gave made comparable across stores of different users.
import { MessageColumns } from '../../../src/storage/mailbox-index.js';
import { StorageError, type StoreMode, type UserStoreOf } from '../../../src/storage/index.js';
import { msg } from './temp-store.js';

/** What a call gave, comparable across stores: values as data, errors by class, code and message. */
async function outcome(username: string, fn: () => unknown, ids = false): Promise<unknown> {
  try {
    return { value: comparable(await fn(), username, ids) };
  } catch (e) {
    return { error: e instanceof StorageError ? ['StorageError', e.code, e.message.replaceAll(username, '<user>')] : ['other', String(e)] };
  }
}

/** Deep copy for comparison: Buffers as text, columns as rows, the user's name and time-made ids neutral. */
export function comparable(v: unknown, username: string, ids = false): unknown {
  if (Buffer.isBuffer(v)) return { buffer: v.toString('latin1') };
  if (ArrayBuffer.isView(v)) return { notABuffer: [...(v as Uint8Array)] };
  // (a Date that crossed threads is of another realm than jest's)
  if (Object.prototype.toString.call(v) === '[object Date]') return { date: (v as Date).getTime() };
  if (v instanceof MessageColumns) {
    const rows = [];
    for (let i = 0; i < v.length; i++) rows.push([v.uidAt(i), v.flagsAt(i), v.modseqAt(i), v.sizeAt(i)]);
    return { columns: rows, keywordsInUse: v.keywordsInUse() };
  }
  if (typeof v === 'string') return v === username ? '<user>' : v;
  if (Array.isArray(v)) return v.map((x) => comparable(x, username, ids));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // UIDVALIDITY comes from the clock, GUIDs are random, save dates are the time of the call.
      // With `ids`, row ids too (an engine whose ids are shared by every user's store).
      const neutral = k === 'uidValidity' || k === 'guid' || k === 'saveDate' || (ids && (k === 'id' || k === 'mailboxId' || k === 'bodyId'));
      out[k] = neutral ? typeof x : comparable(x, username, ids);
    }
    return out;
  }
  return v;
}

export const DATE = new Date('2024-03-01T10:00:00Z');

/**
 * Every contract call, errors included; returns what each gave, in order. Every call is awaited, so
 * a synchronous and an asynchronous store run the same steps.
 */
export async function scenario(store: UserStoreOf<StoreMode>, opts: { ids?: boolean } = {}): Promise<unknown[]> {
  const u = store.username;
  const out: unknown[] = [];
  const step = async (fn: () => unknown) => out.push(await outcome(u, fn, opts.ids));
  await step(() => store.createMailbox('Work'));
  await step(() => store.createMailbox('Work/Sub/Deep', { specialUse: ['\\Archive'] }));
  await step(() => store.createMailbox('Work')); // ALREADYEXISTS
  await step(() => store.createMailbox('bad\u0000name')); // PARAMETERS
  await step(() => store.setSubscribed('Work', true));
  await step(() => store.listSubscriptions());
  await step(() => store.setSpecialUse('Work/Sub', ['\\Sent']));
  await step(() => store.listMailboxes());
  const work = (await store.getMailbox('Work'))!;
  await step(() => store.getMailboxById(work.id));
  await step(() => store.append('Work', { content: msg('one'), flags: ['\\Flagged', '$Label1'], internalDate: DATE }));
  await step(() => store.appendMany('Work', [2, 3, 4].map((n) => ({ content: msg(`m${n}`, 'x'.repeat(n * 1000)), internalDate: DATE, mimeStructure: { n } }))));
  await step(() => store.append('Nope', { content: msg('lost'), internalDate: DATE })); // NONEXISTENT
  await step(() => store.storeFlags(work.id, { uids: [1, 2], operation: 'add', flags: ['\\Seen', 'Custom'] }));
  await step(() => store.storeFlags(work.id, { uids: [3], operation: 'set', flags: ['\\Answered'], unchangedSince: 1 }));
  await step(() => store.storeFlags(work.id, { uids: [1], operation: 'add', flags: ['\\Recent'] })); // PARAMETERS
  await step(() => store.listMessages(work.id));
  await step(() => store.listMessageFlags(work.id));
  await step(() => store.getMessages(work.id, [2, 4, 99]));
  await step(() => store.getMetadata('Work', null as never)); // not a StorageError
  await step(() => store.status('Work'));
  await step(() => store.status('Missing')); // NONEXISTENT
  await step(() => store.enableModseqTracking(work.id));
  await step(() => store.openMailboxView('Work', true));
  await step(() => store.claimRecent(work.id));
  await step(() => store.copy(work.id, [1, 2], 'INBOX'));
  await step(() => store.move(work.id, [3], 'Work/Sub'));
  await step(() => store.expunge(work.id, [2]));
  await step(() => store.changesSince(work.id, 0));
  const inbox = (await store.getMailbox('INBOX'))!;
  await step(() => store.replace(inbox.id, 1, 'INBOX', { content: msg('replaced'), internalDate: DATE }));
  await step(() => store.setMailboxUids('Work/Sub/Deep', { uidValidity: 4242, uidNext: 100 }));
  await step(() => store.importMessages('Work/Sub/Deep', [{ content: msg('imported'), internalDate: DATE, uid: 150, guid: 'ab'.repeat(16) }]));
  // bodies: ranges, slices, structure
  const four = (await store.getMessages(work.id, [4]))[0]!;
  await step(() => store.getMimeStructure(four.bodyId));
  await step(() => store.setMimeStructure(four.bodyId, { n: 'four' }));
  await step(() => store.getMimeStructure(four.bodyId));
  await step(async () => {
    const body = await store.openBody(four.bodyId);
    const slices: Buffer[] = [];
    for await (const slice of body.slices(10, 3000)) slices.push(slice);
    return [body.size, await body.read(0, 20), await body.read(70, 30), await body.read(body.size - 5, 100), await body.read(body.size + 10, 5), Buffer.concat(slices)];
  });
  await step(async () => {
    const { body, mimeStructure } = await store.openBodyWithStructure(four.bodyId);
    return [mimeStructure, await body.read(60, 10)];
  });
  await step(() => store.openBody(999_999)); // EXPUNGEISSUED
  // metadata
  await step(() => store.setMetadata('', '/private/vendor/a', Buffer.from('server value')));
  await step(() => store.setMetadata('Work', '/shared/comment', Buffer.from([0, 1, 2, 255])));
  await step(() => store.setMetadataMany('Work', [{ entry: '/private/x', value: Buffer.from('x') }, { entry: '/shared/comment', value: null }]));
  await step(() => store.setMetadata('Work', 'no-slash', Buffer.from('v'))); // PARAMETERS
  await step(() => store.setMetadata('Work', '/private/big', Buffer.alloc(70 * 1024))); // TOOBIG
  await step(() => store.getMetadata('Work', ['/private/x', '/shared/comment', '/private/none']));
  await step(() => store.getMetadata('', ['/private/vendor/a']));
  await step(() => store.listMetadata('Work', '/private', 'infinity'));
  await step(() => store.listMetadata('', '/private/vendor/a', 0));
  await step(() => store.getMetadata('Work', ['/private/*'], { anyName: true }));
  await step(() => store.quotaUsage());
  // mailbox tree changes
  await step(() => store.renameMailbox('Work', 'Play'));
  await step(() => store.deleteMailbox('INBOX')); // NOPERM
  await step(() => store.deleteMailbox('Play/Sub'));
  await step(() => store.listMailboxes());
  await step(() => store.refreshChanges());
  return out;
}

