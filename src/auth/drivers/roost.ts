// driver = roost: the built-in account database (server DB in src/storage).
import type { AccountRecord, AccountStore, AuthDriverModule, DriverContext } from './types.js';

function requireAccounts(ctx: DriverContext, kind: string): AccountStore {
  if (!ctx.accounts) throw new Error(`${kind} roost: no account database available`);
  return ctx.accounts;
}

function userdbFields(a: AccountRecord): Record<string, string> {
  const f: Record<string, string> = { ...a.fields };
  if (a.uid !== undefined) f.uid = String(a.uid);
  if (a.gid !== undefined) f.gid = String(a.gid);
  if (a.home !== undefined) f.home = a.home;
  return f;
}

export const roostDriver: AuthDriverModule = {
  name: 'roost',
  passdb: (_args, ctx) => {
    const accounts = requireAccounts(ctx, 'passdb');
    return {
      driver: 'roost',
      defaultScheme: 'PLAIN',
      lookup: async (req) => {
        const a = await accounts.getUser(req.user);
        if (!a) return { result: 'unknown' };
        return { result: 'ok', password: a.password, fields: { ...a.fields } };
      },
    };
  },
  userdb: (_args, ctx) => {
    const accounts = requireAccounts(ctx, 'userdb');
    return {
      driver: 'roost',
      lookup: async (req) => {
        const a = await accounts.getUser(req.user);
        return a ? { result: 'ok', fields: userdbFields(a) } : { result: 'unknown' };
      },
      async *iterate() {
        yield* await accounts.listUsers();
      },
    };
  },
};
