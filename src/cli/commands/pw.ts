// `roost pw [-s SCHEME] [-p PASSWORD] [-t HASH]` and `roost pw -l`: like `doveadm pw`.
import { DEFAULT_PASSWORD_SCHEME, hashPassword, listPasswordSchemes, verifyPassword } from '../../auth/index.js';
import { optionValue, parseArgs, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';

export async function runPw(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [
    { names: ['s', 'scheme'], value: true },
    { names: ['p', 'password'], value: true },
    { names: ['t', 'test'], value: true },
    { names: ['r', 'rounds'], value: true },
    { names: ['l', 'list'], value: false },
  ]);
  if (args.positional.length) throw new UsageError('usage: roost pw [-s SCHEME] [-p PASSWORD] [-t HASH] [-r ROUNDS] | roost pw -l');
  if (optionValue(args, 'l') === 'yes') {
    // doveadm pw -l: the scheme names (aliases included) on one line.
    env.io.out(`${listPasswordSchemes().join(' ')}
`);
    return 0;
  }
  let password = optionValue(args, 'p');
  if (password === undefined) {
    const a = await env.io.promptSecret('Enter new password: ');
    if (a === null) throw new UsageError('No password given (-p) and no terminal to ask on');
    const b = await env.io.promptSecret('Retype new password: ');
    if (a !== b) throw new UsageError("Passwords don't match!");
    password = a;
  }
  const test = optionValue(args, 't');
  if (test !== undefined) {
    const r = await verifyPassword(password, test);
    if ('ok' in r && r.ok) {
      env.io.out(`${test} (verified)\n`);
      return 0;
    }
    env.io.err('error' in r ? `Fatal: ${r.error}\n` : 'Fatal: reverse password verification check failed: Password mismatch\n');
    return 1;
  }
  const scheme = (optionValue(args, 's') ?? DEFAULT_PASSWORD_SCHEME).toUpperCase();
  const rounds = optionValue(args, 'r');
  try {
    env.io.out((await hashPassword(password, scheme, rounds ? { rounds: Number(rounds) } : {})) + '\n');
  } catch (err) {
    throw new UsageError(`Fatal: ${err instanceof Error ? err.message : String(err)}`, 1);
  }
  return 0;
}
