// The storage sync bridge over PostgreSQL, the asynchronous backend it exists for: a bridged pgsql
// store answers every contract call as the pgsql store itself does when awaited (same values,
// same StorageError codes and messages), and its mail events reach the caller with the actor.
import { afterAll, afterEach, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHub } from '../../src/log/logger.js';
import { openBridgedSyncStore, openUserStore, type StoreMode, type UserStoreOf, type UserStoreOptions } from '../../src/storage/index.js';
import { usePostgres } from '../pg/harness.js';
import { scenario } from './helpers/bridge-scenario.js';
import { msg } from './helpers/temp-store.js';

logHub.setDefaultOutput(false);
const pgsql = usePostgres();
const open: UserStoreOf<StoreMode>[] = [];
const home = mkdtempSync(join(tmpdir(), 'roost-bridge-pg-'));
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function location(): Promise<string> {
  return `pgsql:${(await pgsql.server.createDatabase()).connectString}`;
}

function options(username: string, loc: string): UserStoreOptions {
  return { username, home, location: loc, separator: '/' };
}

test('every contract call through the bridge gives what the pgsql store gives when awaited', async () => {
  const loc = await location();
  const direct = openUserStore(options('direct', loc));
  const bridged = openBridgedSyncStore(options('bridged', loc));
  open.push(direct, bridged);
  // (ids are the database's, shared by every user's store: left out of the comparison)
  const expected = await scenario(direct, { ids: true });
  const got = await scenario(bridged, { ids: true });
  expect(got).toEqual(expected);
  expect(got.filter((o) => (o as { error?: unknown[] }).error?.[0] === 'StorageError').length).toBeGreaterThan(5);
});

test('mail events of bridged pgsql calls reach the caller before the call returns, with its actor', async () => {
  const store = openBridgedSyncStore(options('events', await location()));
  open.push(store);
  const actor = { session: 1 };
  const log: string[] = [];
  store.onMailEvents((txn) => log.push(`${txn.events.map((e) => e.type).join(',')} by ${txn.actor === actor ? 'the actor' : String(txn.actor)}`));
  store.withActor(actor, () => {
    store.createMailbox('Box');
    log.push('created');
    store.append('Box', { content: msg('hello') });
    log.push('appended');
  });
  expect(log).toEqual(['MailboxCreate by the actor', 'created', 'MessageSave by the actor', 'appended']);
});
