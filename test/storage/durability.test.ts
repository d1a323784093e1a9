import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteUserStore as openSyncUserStore } from '../../src/storage/sqlite/index.js';
import { storageTimings } from '../../src/storage/timings.js';
import { compileStorage, type CompiledStorage } from './helpers/compile-storage.js';
import { tempStores, type TempStores } from './helpers/temp-store.js';

let compiled: CompiledStorage;
let t: TempStores;
beforeAll(() => {
  compiled = compileStorage();
  t = tempStores();
});
afterAll(() => {
  t.cleanup();
  compiled.cleanup();
});

describe('durability', () => {
  // sync: append() returned; durably: store.durably(() => append()) resolved, the WAL fsync having
  // run in the threadpool with several appends in flight (durability 'async-fsync', the default);
  // staged: the body written ahead with stageBody() (threadpool), then durably(append). Bodies vary
  // up to ~150 KB: those above bodyFileThresholdBytes (32 KiB) are files under the home, which
  // must be present and intact for every acknowledged append.
  test.each(['sync', 'durably', 'staged'])('every acknowledged append (%s) survives kill -9 and the database stays intact', async (mode) => {
    const dbPath = join(t.dir, `durable-${mode}`, 'mail.db');
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/append-child.mjs', import.meta.url)), compiled.indexPath, dbPath, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const acked = new Map<number, string>();
    let buffered = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child acknowledged only ${acked.size} appends; stderr: ${stderr}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const [uid, hash] = line.split(' ');
          acked.set(Number(uid), hash!);
        }
        // Kill mid-stream, while the child is busy appending.
        if (acked.size >= 150) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        if (acked.size < 150) reject(new Error(`child exited early: ${stderr}`));
      });
    });
    expect(await exited).toBe('SIGKILL');

    const raw = new Database(dbPath);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();

    const store = openSyncUserStore({ username: 'durable', home: dbPath + '.home', dbPath, separator: '/' });
    try {
      const inbox = store.getMailbox('INBOX')!.id;
      const byUid = new Map(store.listMessages(inbox).map((m) => [m.uid, m]));
      for (const [uid, hash] of acked) {
        const m = byUid.get(uid);
        expect(m).toBeDefined();
        const body = store.openBody(m!.bodyId).read(0, m!.size);
        expect(createHash('sha256').update(body).digest('hex')).toBe(hash);
      }
      // Large bodies were files in sync and staged mode (the test covers that path); durably()
      // without staging keeps them in SQLite.
      const root = join(dbPath + '.home', 'bodies');
      const files = existsSync(root) ? readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
      if (mode === 'durably') expect(files).toHaveLength(0);
      else expect(files.length).toBeGreaterThan(0);
      expect([...acked.keys()].some((uid) => (byUid.get(uid)?.size ?? 0) >= 32 * 1024)).toBe(true);
      // Usage counters stayed consistent with what is stored.
      expect(store.quotaUsage().messages).toBe(byUid.size);
    } finally {
      store.close();
    }
  });

  test('opening a store syncs the WAL only when the open wrote: the first open, not the next ones', () => {
    const syncs: string[] = [];
    storageTimings.walSync = (mode) => syncs.push(mode);
    try {
      const first = t.open('opens');
      expect(syncs).toEqual(['sync']); // schema and INBOX, committed with synchronous=NORMAL
      first.close();
      const again = t.open('opens');
      expect(syncs).toEqual(['sync']);
      again.createMailbox('Later'); // commits still sync
      expect(syncs).toEqual(['sync', 'sync']);
      again.close();
      const raw = new Database(join(t.dir, 'opens', 'mail.db'), { readonly: true });
      expect(raw.prepare("SELECT count(*) FROM mailbox WHERE name = 'Later'").pluck().get()).toBe(1);
      raw.close();
    } finally {
      delete storageTimings.walSync;
    }
  });
});
