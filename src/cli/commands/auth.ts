// `roost auth test USER [PASS]` and `roost auth lookup USER` (doveadm auth test / lookup).
import { parseArgs, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';

export async function runAuth(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [{ names: ['x', 'field'], value: true }]);
  const [sub, user, pass, ...extra] = args.positional;
  if (!sub || !user || extra.length) throw new UsageError('usage: roost auth test USER [PASSWORD] | roost auth lookup USER');
  const { auth } = env.context();
  switch (sub) {
    case 'test': {
      let password = pass;
      if (password === undefined) {
        const p = await env.io.promptSecret('Password: ');
        if (p === null) throw new UsageError('No password given and no terminal to ask on');
        password = p;
      }
      const r = await auth.authenticatePlain({ user, password, service: 'doveadm', mech: 'PLAIN', secured: true });
      if (!r.ok) {
        env.io.out(`passdb: ${user} auth failed\n`);
        env.io.out(`extra fields:\n  user=${user}\n`);
        return 77; // EX_NOPERM, as doveadm auth test
      }
      env.io.out(`passdb: ${user} auth succeeded\n`);
      env.io.out(`extra fields:\n  user=${r.user}\n`);
      for (const [k, v] of Object.entries(r.passdbFields)) env.io.out(`  ${k}=${v}\n`);
      return 0;
    }
    case 'lookup': {
      const r = await auth.lookupUser(user, 'doveadm');
      if (!r.found) {
        env.io.err(`userdb lookup: user ${user} ${r.reason === 'tempfail' ? 'failed: Internal error' : "doesn't exist"}\n`);
        return r.reason === 'tempfail' ? 75 : 67;
      }
      env.io.out(`userdb: ${r.user}\n`);
      for (const [k, v] of Object.entries(r.fields)) env.io.out(`  ${k.padEnd(10)}: ${v}\n`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown auth command: ${sub}`);
  }
}
