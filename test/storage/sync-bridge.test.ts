// The storage sync bridge (src/storage/sync-bridge/): a synchronous store served by a backend's
// store on a helper thread. It is backend-independent, so it is driven here over SQLite: the same
// calls on a bridged `sqlite:` store and on the direct sync store give the same results, errors
// and events. Then what only the bridge has: the helper thread's lifetime (in this process and
// in child processes), the wait limit, staged bodies and durability through the helper.
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { logHub } from '../../src/log/logger.js';
import { openBridgedSyncStore, openSyncUserStore, StorageError, type MailTransactionEvents, type SyncUserStore, type UserStoreOptions } from '../../src/storage/index.js';
import { bridgeHelperThreads } from '../../src/storage/sync-bridge/client.js';
import { waitUntil } from '../poll.js';
import { REPO_ROOT } from './helpers/compile-storage.js';
import { msg } from './helpers/temp-store.js';
import { comparable, DATE, scenario } from './helpers/bridge-scenario.js';

logHub.setDefaultOutput(false);
const root = mkdtempSync(join(tmpdir(), 'roost-sync-bridge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let homes = 0;
function options(username: string, settings: UserStoreOptions['settings'] = {}): UserStoreOptions {
  const home = join(root, `home${++homes}`);
  return { username, home, location: 'sqlite:~/mail.db', separator: '/', fsync: 'never', settings };
}

const open: SyncUserStore[] = [];
function direct(username = 'direct', settings?: UserStoreOptions['settings']): SyncUserStore {
  const s = openSyncUserStore(options(username, settings));
  open.push(s);
  return s;
}
function bridged(username = 'bridged', settings?: UserStoreOptions['settings']): SyncUserStore {
  const s = openBridgedSyncStore(options(username, settings));
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe('a bridged sqlite store behaves as the direct sync store', () => {
  test('every contract call: values, Buffers, Dates, StorageError codes and messages', async () => {
    const expected = await scenario(direct());
    const got = await scenario(bridged());
    expect(got).toEqual(expected);
    // the scenario does reach errors of every kind it means to
    const codes = got.flatMap((o) => ((o as { error?: unknown[] }).error?.[0] === 'StorageError' ? [(o as { error: unknown[] }).error[1]] : []));
    expect(new Set(codes)).toEqual(new Set(['ALREADYEXISTS', 'PARAMETERS', 'NONEXISTENT', 'EXPUNGEISSUED', 'TOOBIG', 'NOPERM']));
    expect(got.filter((o) => (o as { error?: unknown[] }).error?.[0] === 'other')).toEqual([{ error: ['other', expect.stringMatching(/^TypeError: /)] }]);
  });

  test('a StorageError arrives as a StorageError with its code and message', () => {
    const store = bridged();
    let caught: unknown;
    try {
      store.status('Missing');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StorageError);
    expect((caught as StorageError).code).toBe('NONEXISTENT');
    expect((caught as StorageError).message).toMatch(/Missing/);
  });

  test('mail events and change notices reach listeners in order, before the call returns, as the direct store gives them', () => {
    const run = (store: SyncUserStore) => {
      const log: unknown[] = [];
      const actorA = { session: 'A' };
      const actorB = { session: 'B' };
      const name = (a: unknown) => (a === actorA ? 'A' : a === actorB ? 'B' : a === undefined ? 'none' : 'someone else');
      store.onMailEvents((txn: MailTransactionEvents) => log.push(['mail', name(txn.actor), comparable({ ...txn, actor: undefined }, store.username)]));
      const off = store.onChange((n) => log.push(['change', comparable(n, store.username)]));
      const call = (what: string, fn: () => unknown) => {
        log.push(`call ${what}`);
        try {
          fn();
        } catch (e) {
          log.push(`threw ${(e as StorageError).code}`);
        }
        log.push(`returned ${what}`);
      };
      call('create', () => store.createMailbox('Box'));
      const box = store.getMailbox('Box')!;
      store.withActor(actorA, () => {
        call('append', () => store.append('Box', { content: msg('a'), internalDate: DATE }));
        // the actor of an outer withActor is restored after an inner one
        store.withActor(actorB, () => call('flags', () => store.storeFlags(box.id, { uids: [1], operation: 'add', flags: ['\\Seen'], recentUids: [1] })));
        call('copy', () => store.copy(box.id, [1], 'INBOX'));
      });
      call('expunge', () => store.expunge(box.id, [1]));
      call('failing append', () => store.append('Nope', { content: msg('b') }));
      off();
      call('rename', () => store.renameMailbox('Box', 'Crate'));
      return log;
    };
    const expected = run(direct());
    expect(run(bridged())).toEqual(expected);
    // and the log is what it should be: events between the call and its return, actors by identity
    expect(expected).toContainEqual(['mail', 'B', expect.objectContaining({ events: [expect.objectContaining({ type: 'MessageFlags', oldRecent: true })] })]);
    expect(expected.slice(expected.indexOf('call append'), expected.indexOf('returned append') + 1).map((e) => (Array.isArray(e) ? `${e[0]} ${e[0] === 'mail' ? e[1] : ''}` : e))).toEqual([
      'call append',
      'change ',
      'mail A',
      'returned append',
    ]);
  });

  test('a listener that calls the store: its own calls\' events come after the ones already due', () => {
    const run = (store: SyncUserStore) => {
      const seen: string[] = [];
      store.onMailEvents((txn) => {
        for (const e of txn.events) {
          seen.push(e.type);
          // as the push-notification plugin reads a saved message right away
          if (e.type === 'MessageSave') {
            store.setMetadata('', `/private/seen${seen.length}`, Buffer.from('y'));
            seen.push(store.openBody(e.bodyId).read(0, 4).toString());
          }
        }
      });
      store.appendMany('INBOX', [{ content: msg('one') }, { content: msg('two') }]);
      return seen;
    };
    const expected = run(direct());
    expect(expected).toContain('From');
    expect(run(bridged())).toEqual(expected);
  });
});

describe('what the bridge adds', () => {
  test('withActor: the actor reaches the calls made inside fn and no others; withActor returns fn\'s value', () => {
    const store = bridged();
    const actor = { id: 'session-1' };
    const actors: unknown[] = [];
    store.onMailEvents((txn) => actors.push(txn.actor));
    expect(store.withActor(actor, () => store.createMailbox('A').name)).toBe('A');
    store.createMailbox('B');
    expect(actors).toEqual([actor, undefined]);
    expect(actors[0]).toBe(actor);
  });

  test('durably runs fn with the store and resolves with its value; a staged body appends once', async () => {
    const store = bridged('bridged', { bodyFileThresholdBytes: 1024 });
    const big = msg('big', 'y'.repeat(5000));
    const actor = { id: 'lmtp' };
    const actors: unknown[] = [];
    store.onMailEvents((txn) => actors.push(txn.actor));
    const written: unknown[] = [];
    const staged = await store.stageBody(big, { onWritten: (shared) => written.push(shared) });
    expect(written).toEqual([staged]);
    const result = await store.withActor(actor, () =>
      store.durably((s) => {
        expect(s).toBe(store);
        return s.append('INBOX', { content: staged, origin: 'delivery' });
      }),
    );
    expect(actors.length).toBeGreaterThan(0);
    expect(actors.every((a) => a === actor)).toBe(true);
    expect(store.openBody(result.bodyId).read(0, big.length).equals(big)).toBe(true);
    expect(() => store.append('INBOX', { content: staged })).toThrow(/staged body/);
    // a small body is not staged: it comes back as it was
    const small = await store.stageBody(msg('small'));
    expect(Buffer.isBuffer(small) && small.equals(msg('small'))).toBe(true);
  });

  test('a discarded staged body cannot be appended', async () => {
    const store = bridged('bridged', { bodyFileThresholdBytes: 1024 });
    const staged = await store.stageBody(msg('big', 'z'.repeat(4000)));
    if (Buffer.isBuffer(staged) || !('discard' in staged)) throw new Error('expected a staged body');
    await staged.discard();
    expect(() => store.append('INBOX', { content: staged })).toThrow(StorageError);
  });

  test('a change made elsewhere reaches onChange between calls, or at once through refreshChanges', async () => {
    const store = bridged('carol');
    const notices: string[] = [];
    store.onChange((n) => notices.push(`${n.kind} ${n.mailboxId === null ? 'list' : 'box'}`));
    // this thread's own store of the same user: another thread for the helper's store
    const other = openSyncUserStore({ ...options('carol'), home: join(root, `home${homes - 1}`) });
    open.push(other);
    other.createMailbox('FromElsewhere');
    // the notice reaches the helper's store between calls and comes to this thread without a call
    await waitUntil('the notice to arrive', () => notices.length > 0);
    // (the other thread's notice, or the SQLite change feed's)
    expect(['mailboxes list', 'elsewhere list']).toContain(notices[0]);
    expect(store.listMailboxes().map((m) => m.name)).toContain('FromElsewhere');
    // refreshChanges looks at once (SQLite: the file's data_version)
    other.createMailbox('Second');
    notices.length = 0;
    store.refreshChanges();
    expect(notices.length).toBeGreaterThan(0);
    expect(store.listMailboxes().map((m) => m.name)).toContain('Second');
  });

  test('the wait limit: a call the engine does not answer in time fails with SERVERBUG saying so', () => {
    expect(() => openBridgedSyncStore(options('slow'), { waitLimitMs: 0 })).toThrow(new StorageError('SERVERBUG', 'Storage did not answer open within 0 s'));
  });

  test('one helper thread serves every bridged store of this thread, and ends with the last close', async () => {
    await waitUntil('no helper from earlier tests', () => bridgeHelperThreads() === 0);
    const a = openBridgedSyncStore(options('a'));
    const b = openBridgedSyncStore(options('b'));
    a.createMailbox('OnlyA');
    expect(b.listMailboxes().map((m) => m.name)).toEqual(['INBOX']);
    expect(bridgeHelperThreads()).toBe(1);
    a.close();
    expect(b.status('INBOX').messages).toBe(0);
    expect(() => a.listMailboxes()).toThrow(/closed/);
    b.close();
    await waitUntil('the helper thread to exit', () => bridgeHelperThreads() === 0);
  });
});

describe('the helper thread never keeps a process alive', () => {
  const client = pathToFileURL(join(REPO_ROOT, 'dist/src/storage/sync-bridge/client.js')).href;

  let scripts = 0;
  /** Runs `code` as an ES module in a child node; resolves with its exit code and output once it exited by itself. */
  function runChild(code: string): Promise<{ code: number | null; out: string }> {
    const file = join(root, `child-${++scripts}.mjs`);
    writeFileSync(file, code);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('exit', (exitCode) => resolve({ code: exitCode, out }));
    });
  }

  const opts = (n: number) => JSON.stringify({ username: 'kid', home: join(root, `child${n}`), location: 'sqlite:~/mail.db', separator: '/', fsync: 'never' });

  test('a process that opens and closes a bridged store exits by itself', async () => {
    const r = await runChild(`
      import { openBridgedSyncStore } from ${JSON.stringify(client)};
      const s = openBridgedSyncStore(${opts(1)});
      s.createMailbox('Kid');
      console.log(s.listMailboxes().map((m) => m.name).join(','));
      s.close();
    `);
    expect(r.out).toContain('INBOX,Kid');
    expect(r.code).toBe(0);
  });

  test('a process with an idle bridged store it never closed exits by itself', async () => {
    const r = await runChild(`
      import { openBridgedSyncStore } from ${JSON.stringify(client)};
      const s = openBridgedSyncStore(${opts(2)});
      console.log(s.status('INBOX').messages);
    `);
    expect(r).toEqual({ code: 0, out: expect.stringContaining('0') });
  });

  test('a worker thread that used a bridged store and ends without closing it exits, and its helper with it', async () => {
    const workerFile = join(root, 'bridge-worker.mjs');
    writeFileSync(
      workerFile,
      `import { openBridgedSyncStore } from ${JSON.stringify(client)};
      import { parentPort } from 'node:worker_threads';
      const s = openBridgedSyncStore(${opts(3)});
      s.createMailbox('FromWorker');
      parentPort.postMessage(s.listMailboxes().length);`,
    );
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      const w = new Worker(${JSON.stringify(workerFile)});
      w.on('message', (n) => console.log('mailboxes', n));
      w.on('exit', (c) => console.log('worker exited', c));
    `);
    expect(r.out).toContain('mailboxes 2');
    expect(r.out).toContain('worker exited 0');
    expect(r.code).toBe(0);
  });
});
