// The verbs that talk to a running `roost serve` over its admin socket (doveadm's who, kick,
// reload, stop, log errors and log reopen), with doveadm's output.
import { adminRequest, adminSocketPath, AdminError, answers } from '../../admin/socket.js';
import type { MailSessionInfo } from '../../mail-user/session-info.js';
import { parseArgs, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';

/** doveadm's exit code when nothing matched (DOVEADM_EX_NOTFOUND = EX_NOUSER). */
const EX_NOTFOUND = 68;
/** The server is not running or refused the request (EX_TEMPFAIL). */
const EX_TEMPFAIL = 75;

async function request(env: CliEnv, cmd: string, args: string[] = []): Promise<unknown> {
  return adminRequest(adminSocketPath(env.settings.base_dir), { cmd, args });
}

export interface TableHeader {
  title: string;
  /** doveadm's DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY. */
  right?: boolean;
  /** doveadm's DOVEADM_PRINT_HEADER_FLAG_EXPAND: the column that takes the spare width. */
  expand?: boolean;
}

/**
 * doveadm's table printer (doveadm-print-table.c): each column as wide as its widest cell or
 * title, one space apart; when the table is narrower than the terminal (80 columns when stdout
 * is not a terminal, at least 30), half of the spare width goes to the EXPAND column, or the
 * last one; when wider, columns are shrunk from the right. Cells are padded, never cut.
 */
export function formatTable(headers: TableHeader[], rows: string[][], columns = 80): string {
  const widths = headers.map((h, i) => Math.max(h.title.length, ...rows.map((r) => r[i]!.length)));
  const minWidths = headers.map((h, i) => Math.min(h.title.length, ...rows.map((r) => r[i]!.length)));
  let total = widths.reduce((a, w) => a + w + 1, 0) - 1;
  while (total > columns) {
    const before = total;
    for (let i = headers.length - 1; i >= 0; i--) {
      const diff = widths[i]! - minWidths[i]!;
      if (total - diff <= columns) {
        widths[i]! -= total - columns;
        total = columns;
        break;
      }
      // doveadm takes a bit off without counting it in the total (so one pass at most).
      if (diff > 0) widths[i]! -= diff === 1 ? 1 : Math.floor(diff / 2);
    }
    if (total === before) break;
  }
  if (total < columns) {
    const expand = headers.findIndex((h) => h.expand);
    widths[expand < 0 ? headers.length - 1 : expand]! += Math.floor((columns - total) / 2);
  }
  const line = (cells: string[]) =>
    cells.map((c, i) => (headers[i]!.right ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' ') + '\n';
  return line(headers.map((h) => h.title)) + rows.map(line).join('');
}

/** The width doveadm formats tables for: the terminal's, or 80. */
function terminalColumns(): number {
  return process.stdout.isTTY && process.stdout.columns ? Math.max(30, process.stdout.columns) : 80;
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
 * `roost who [-1] [MASK...]` like `doveadm who`, in doveadm's table layout: one line per user and
 * service (`username # proto (pids) (ips)`), or with -1 one line per session, to which Roost adds
 * the session id and how long it has been connected. Listed: logged-in IMAP sessions, LMTP
 * recipients being delivered (no IP, as Dovecot's), other mail user sessions of the server. A
 * mask is a user mask (`*`, `?`) or an IP/bits.
 */
export async function runWho(env: CliEnv, argv: string[], now = Date.now(), columns = terminalColumns()): Promise<number> {
  // `-1` is a digit option, which parseArgs's letters do not cover.
  const oneLine = argv.includes('-1');
  const args = parseArgs(argv.filter((a) => a !== '-1'), []);
  const reply = (await request(env, 'who', args.positional)) as { pid: number; sessions: MailSessionInfo[] };
  const pid = String(reply.pid);
  if (oneLine) {
    const headers = [{ title: 'username', expand: true }, { title: 'proto' }, { title: 'pid' }, { title: 'ip' }, { title: 'session' }, { title: 'connected' }];
    const rows = reply.sessions.map((s) => [s.username, s.service, pid, s.remoteIp, s.sessionId, formatAge(now - s.connectedAt)]);
    env.io.out(formatTable(headers, rows, columns));
    return 0;
  }
  const groups = new Map<string, { username: string; service: string; count: number; ips: string[] }>();
  for (const s of reply.sessions) {
    const key = `${s.username}\0${s.service}`;
    const g = groups.get(key) ?? { username: s.username, service: s.service, count: 0, ips: [] };
    g.count++;
    if (s.remoteIp && !g.ips.includes(s.remoteIp)) g.ips.push(s.remoteIp);
    groups.set(key, g);
  }
  const headers = [{ title: 'username' }, { title: '#', right: true }, { title: 'proto' }, { title: '(pids)' }, { title: '(ips)' }];
  // Roost is one process: every session has the same pid, listed once.
  const rows = [...groups.values()].map((g) => [g.username, String(g.count), g.service, `(${pid})`, `(${g.ips.join(' ')})`]);
  env.io.out(formatTable(headers, rows, columns));
  return 0;
}

/**
 * `roost kick USER_MASK [IP]`: ends the matching IMAP sessions with `* BYE Server shutting down.`
 * and the LMTP connections delivering to a matching user with `421 4.3.2 <hostname> Shutting
 * down`, as the SIGTERM of `doveadm kick` does to Dovecot's imap and lmtp processes.
 */
export async function runKick(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, []);
  if (args.positional.length === 0 || args.positional.length > 2) throw new UsageError('usage: roost kick USER_MASK [IP[/BITS]]');
  const kicked = (await request(env, 'kick', args.positional)) as MailSessionInfo[];
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

/**
 * `roost log errors`: the server's last warnings and errors (`doveadm log errors`).
 * `roost log reopen`: the server opens its log files again (`doveadm log reopen`), silently.
 */
export async function runLog(env: CliEnv, argv: string[]): Promise<number> {
  const args = parseArgs(argv, []);
  const what = args.positional.length === 1 ? args.positional[0] : undefined;
  if (what === 'reopen') {
    await request(env, 'log-reopen');
    return 0;
  }
  if (what !== 'errors') throw new UsageError('usage: roost log errors | roost log reopen');
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
