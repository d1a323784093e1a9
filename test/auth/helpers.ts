import type { AccountRecord, AccountStore } from '../../src/auth/drivers/types.js';

/** In-memory stand-in for the server account database. */
export function memoryAccounts(records: AccountRecord[]): AccountStore {
  const byName = new Map(records.map((r) => [r.username, r]));
  return { getUser: (n) => byName.get(n), listUsers: () => [...byName.keys()] };
}

export const noSleep = { sleeps: [] as number[], sleep: async (ms: number) => void noSleep.sleeps.push(ms) };
export const info = { service: 'imap', remoteIp: '192.0.2.7', localIp: '127.0.0.1', secured: true, mech: 'PLAIN' };
