// The verbs that talk to a running `roost serve` over its admin socket (doveadm's who, kick,
// reload, stop and log errors), with doveadm's output.
import { adminRequest, adminSocketPath, AdminError, answers } from '../../admin/socket.js';
import type { ImapSessionInfo } from '../../imap/server.js';
import { parseArgs, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';

/** doveadm's exit code when nothing matched (DOVEADM_EX_NOTFOUND = EX_NOUSER). */
const EX_NOTFOUND = 68;
/** The server is not running or refused the request (EX_TEMPFAIL). */
const EX_TEMPFAIL = 75;

async function request(env: CliEnv, cmd: string, args: string[] = []): Promise<unknown> {
  return adminRequest(adminSocketPath(env.settings.base_dir), { cmd, args });
}

/** Columns padded to their widest cell, one space apart (doveadm's table output, without its fixed widths). */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join(' ').trimEnd() + '\n').join('');
}

/** `42s`, `5m07s`, `2h03m`: how long a session has been connected. */
export function formatAge(ms: number): string {
  const secs = Math.max(0, Math.floor(ms / 1000));
  if (secs < 60) return `${secs}s`;
  const mins = Math.floor(secs / 60);
  if (mins < 60) return `${mins}m${String(secs % 60).padStart(2, '0')}s`;
  return `${Math.floor(mins / 60)}h${String(mins % 60).padStart(2, '0')}m`;
}

/**
 * `roost who [-1] [MASK...]` like `doveadm who`: one line per user and service
 * (`username # proto (pids) (ips)`), or with -1 one line per connection, to which Roost adds the
 * session id and how long it has been connected. A mask is a user mask (`*`, `?`) or an IP/bits.
 */
export async function runWho(env: CliEnv, argv: string[], now = Date.now()): Promise<number> {
  // `-1` is a digit option, which parseArgs's letters do not cover.
  const oneLine = argv.includes('-1');
  const args = parseArgs(argv.filter((a) => a !== '-1'), []);
  const reply = (await request(env, 'who', args.positional)) as { pid: number; sessions: ImapSessionInfo[] };
  const pid = String(reply.pid);
  if (oneLine) {
    const rows = [['username', 'proto', 'pid', 'ip', 'session', 'connected']];
    for (const s of reply.sessions) rows.push([s.username, s.service, pid, s.remoteIp, s.sessionId, formatAge(now - s.connectedAt)]);
    env.io.out(formatTable(rows));
    return 0;
  }
  const groups = new Map<string, { username: string; service: string; count: number; ips: string[] }>();
  for (const s of reply.sessions) {
    const key = `${s.username}\0${s.service}`;
    const g = groups.get(key) ?? { username: s.username, service: s.service, count: 0, ips: [] };
    g.count++;
    if (!g.ips.includes(s.remoteIp)) g.ips.push(s.remoteIp);
    groups.set(key, g);
  }
  const rows = [['username', '#', 'proto', '(pids)', '(ips)']];
  // Roost is one process: every session has the same pid, listed once.
  for (const g of groups.values()) rows.push([g.username, String(g.count), g.service, `(${pid})`, `(${g.ips.join(' ')})`]);
  env.io.out(formatTable(rows));
  return 0;
}

/** `roost kick USER_MASK [IP]`: ends the matching sessions with `* BYE Server shutting down.` */
export async function runKick(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, []);
  if (args.positional.length === 0 || args.positional.length > 2) throw new UsageError('usage: roost kick USER_MASK [IP[/BITS]]');
  const kicked = (await request(env, 'kick', args.positional)) as ImapSessionInfo[];
  if (kicked.length === 0) {
    env.io.err('no users kicked\n');
    return EX_NOTFOUND;
  }
  const users = [...new Set(kicked.map((s) => s.username))];
  // doveadm kick's output, byte for byte (its formatted printer puts the names first).
  env.io.out(`${users.map((u) => `${u} `).join('')}kicked connections from the following users:\n\n`);
  return 0;
}

/** `roost reload`: as SIGHUP; fails (and the old configuration keeps running) when the new one has an error. */
export async function runReload(env: CliEnv, argv: string[]): Promise<number> {
  parseArgs(argv, []);
  await request(env, 'reload');
  return 0;
}

/** `roost stop`: a graceful shutdown, as SIGTERM; returns when the server has closed everything. */
export async function runStop(env: CliEnv, argv: string[]): Promise<number> {
  parseArgs(argv, []);
  await request(env, 'stop');
  const path = adminSocketPath(env.settings.base_dir);
  // The server removes its admin socket last; wait for that (bounded: 10 minutes of 100 ms polls).
  for (let i = 0; i < 6000; i++) {
    if (!(await answers(path))) return 0;
    await new Promise((r) => setTimeout(r, 100));
  }
  env.io.err('roost: the server has not stopped yet\n');
  return EX_TEMPFAIL;
}

/** `roost log errors`: the server's last warnings and errors (`doveadm log errors`). */
export async function runLog(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, []);
  if (args.positional[0] !== 'errors' || args.positional.length !== 1) throw new UsageError('usage: roost log errors');
  const lines = (await request(env, 'log-errors')) as string[];
  for (const l of lines) env.io.out(`${l}\n`);
  return 0;
}

/** A refusal from the server is the command's failure, not a crash. */
export function adminVerb(run: (env: CliEnv, argv: string[]) => Promise<number>) {
  return async (env: CliEnv, argv: string[]): Promise<number> => {
    try {
      return await run(env, argv);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      env.io.err(`roost: ${err instanceof AdminError ? 'Error: ' : ''}${err instanceof Error ? err.message : String(err)}\n`);
      return EX_TEMPFAIL;
    }
  };
}
