// `roost user add|del|list|show|passwd` manage the built-in account database; `roost user USER`
// and `roost user '*'` look users up through the userdbs like `doveadm user`.
import { DEFAULT_PASSWORD_SCHEME, hashPassword } from '../../auth/index.js';
import { StorageError, type UserFieldChanges } from '../../storage/types.js';
import { optionValue, parseArgs, UsageError, type ParsedArgs } from '../args.js';
import type { CliEnv } from '../cli-context.js';

const USAGE =
  "user add USER [-p PASSWORD] [-s SCHEME] | user del USER | user list | user show USER | user passwd USER [-p PASSWORD] | " +
  "user set USER FIELD=VALUE... | user USER|'*'";

export async function runUser(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, [
    { names: ['p', 'password'], value: true },
    { names: ['s', 'scheme'], value: true },
    { names: ['f', 'field'], value: true },
  ]);
  const [sub, name, ...rest] = args.positional;
  if (sub === 'set') return setFields(env, need(name), rest);
  if (rest.length) throw new UsageError(`Unexpected argument: ${rest[0]}\nusage: roost ${USAGE}`);
  switch (sub) {
    case 'add':
      return addUser(env, need(name), args);
    case 'del':
    case 'delete':
      await env.context().serverDb.deleteUser(need(name));
      env.io.out(`Deleted user ${name} (mail under the home was kept)\n`);
      return 0;
    case 'list':
      for (const u of await env.context().serverDb.listUsers()) env.io.out(`${u.username}\n`);
      return 0;
    case 'show':
      return showAccount(env, need(name));
    case 'passwd':
      return setPassword(env, need(name), args);
    case undefined:
      throw new UsageError(`usage: roost ${USAGE}`);
    default:
      // doveadm user USER / doveadm user '*'
      return lookupUsers(env, [sub, ...(name ? [name] : [])], optionValue(args, 'f'));
  }
}

function need(name: string | undefined): string {
  if (!name) throw new UsageError(`Missing USER\nusage: roost ${USAGE}`);
  return name;
}

async function readPassword(env: CliEnv, args: ParsedArgs): Promise<string> {
  const given = optionValue(args, 'p');
  if (given !== undefined) return given;
  const first = await env.io.promptSecret('Enter new password: ');
  if (first === null) throw new UsageError('No password given (-p) and no terminal to ask on');
  const again = await env.io.promptSecret('Retype new password: ');
  if (again !== first) throw new UsageError("Passwords don't match");
  return first;
}

async function addUser(env: CliEnv, name: string, args: ParsedArgs): Promise<number> {
  const db = env.context().serverDb;
  if (await db.getUser(name)) throw new UsageError(`User ${name} already exists`, 1);
  const password = await readPassword(env, args);
  const scheme = optionValue(args, 's') ?? DEFAULT_PASSWORD_SCHEME;
  await db.addUser({ username: name, password: await hashPassword(password, scheme) });
  env.io.out(`Added user ${name}\n`);
  return 0;
}

async function setPassword(env: CliEnv, name: string, args: ParsedArgs): Promise<number> {
  const db = env.context().serverDb;
  if (!(await db.getUser(name))) throw new StorageError('NONEXISTENT', `User doesn't exist: ${name}`);
  const password = await readPassword(env, args);
  const scheme = optionValue(args, 's') ?? DEFAULT_PASSWORD_SCHEME;
  await db.setPassword(name, await hashPassword(password, scheme));
  env.io.out(`Password changed for ${name}\n`);
  return 0;
}

/**
 * `user set USER field=value ...`: userdb fields of a built-in account (uid, gid, home,
 * quota_rule, or any extra field such as mail_lua_script); an empty value removes the field.
 */
async function setFields(env: CliEnv, name: string, assignments: string[]): Promise<number> {
  if (!assignments.length) throw new UsageError(`usage: roost user set USER FIELD=VALUE...`);
  const changes: UserFieldChanges = {};
  const fields: Record<string, string | null> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UsageError(`Expected FIELD=VALUE, got: ${a}`);
    const key = a.slice(0, eq);
    const value = a.slice(eq + 1);
    if (key === 'uid' || key === 'gid') {
      if (value !== '' && !/^\d+$/.test(value)) throw new UsageError(`${key} must be a number: ${value}`);
      changes[key] = value === '' ? null : Number(value);
    } else if (key === 'home') changes.home = value || null;
    else if (key === 'quota_rule') changes.quotaRule = value || null;
    else if (key === 'password') throw new UsageError('Use `roost user passwd` to change a password');
    else fields[key] = value === '' ? null : value;
  }
  if (Object.keys(fields).length) changes.fields = fields;
  await env.context().serverDb.setFields(name, changes);
  env.io.out(`Updated user ${name}\n`);
  return 0;
}

async function showAccount(env: CliEnv, name: string): Promise<number> {
  const u = await env.context().serverDb.getUser(name);
  if (!u) throw new StorageError('NONEXISTENT', `User doesn't exist: ${name}`);
  const scheme = u.password ? (/^\{([^}]+)\}/.exec(u.password)?.[1] ?? 'PLAIN') : '(none)';
  const rows: [string, string][] = [
    ['username', u.username],
    ['password scheme', scheme],
    ['uid', u.uid === null ? '' : String(u.uid)],
    ['gid', u.gid === null ? '' : String(u.gid)],
    ['home', u.home ?? ''],
    ['quota_rule', u.quotaRule ?? ''],
    ['created', u.createdAt.toISOString()],
    ...Object.entries(u.fields),
  ];
  for (const [k, v] of rows) env.io.out(`${k.padEnd(16)}: ${v}\n`);
  return 0;
}

/** `doveadm user`: field/value lines from the userdb chain; `*` iterates. Exit 67 when unknown. */
async function lookupUsers(env: CliEnv, names: string[], field: string | undefined): Promise<number> {
  const { auth, mailUsers } = env.context();
  if (names.length === 1 && names[0] === '*') {
    for await (const u of auth.iterateUsers()) env.io.out(`${u}\n`);
    return 0;
  }
  let rc = 0;
  for (const name of names) {
    const r = await auth.lookupUser(name, 'doveadm');
    if (!r.found) {
      if (r.reason === 'tempfail') {
        env.io.err(`userdb lookup: user ${name} failed: Internal error\n`);
        rc = 75;
      } else {
        env.io.err(`userdb lookup: user ${name} doesn't exist\n`);
        rc = rc || 67;
      }
      continue;
    }
    // The home shown is the one the mail user resolves (mail_home expanded when userdb has none).
    const fields: Record<string, string> = { ...r.fields };
    if (!fields.home) {
      const user = await mailUsers.createUser({ username: r.user, service: 'doveadm', userdbFields: r.fields, sessionId: null });
      fields.home = user.home;
      await mailUsers.destroyUser(user);
    }
    if (field) {
      env.io.out(`${fields[field] ?? ''}\n`);
      continue;
    }
    env.io.out(`field\tvalue\n`);
    env.io.out(`user\t${r.user}\n`);
    for (const [k, v] of Object.entries(fields)) env.io.out(`${k}\t${v}\n`);
  }
  return rc;
}
