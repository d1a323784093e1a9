// A `roost serve` child process (the built command) on free loopback ports with a temp data_dir
// and the roost passdb/userdb, for tests of CLI verbs that act on a running server.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../poll.js';
import { freePorts, MAIN, roost } from './built-roost.js';

export interface ServeChild {
  conf: string;
  imapPort: number;
  lmtpPort: number;
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
  /** `kill -9`: the process ends at once, nothing shut down. */
  kill(): Promise<void>;
}

export interface ServeChildOptions {
  /**
   * A node name: its configuration is `<dir>/<node>.conf` and its data_dir `<dir>/<node>-data`, so
   * several servers can run from one folder (several nodes on one shared store). Default: one
   * server, `<dir>/roost.conf` and `<dir>/data`.
   */
  node?: string;
  /** passdb/userdb blocks instead of the roost ones; `users` are then not added with `roost user add`. */
  auth?: string[];
}

/** Writes `<dir>/roost.conf` (plus `extra` lines), adds `users` (password `secret`) and starts serving. */
export async function startServeChild(dir: string, users: string[], extra: string[] = [], opts: ServeChildOptions = {}): Promise<ServeChild> {
  const [imapPort, lmtpPort] = (await freePorts(2)) as [number, number];
  const conf = join(dir, opts.node ? `${opts.node}.conf` : 'roost.conf');
  writeFileSync(
    conf,
    [
      'protocols = imap lmtp',
      'listen = 127.0.0.1',
      `data_dir = ${dir}/${opts.node ? `${opts.node}-data` : 'data'}`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_username_format = %Ln',
      `service imap-login {\n  inet_listener imap {\n    port = ${imapPort}\n  }\n}`,
      `service lmtp {\n  inet_listener lmtp {\n    port = ${lmtpPort}\n  }\n}`,
      ...(opts.auth ?? ['passdb {\n  driver = roost\n}', 'userdb {\n  driver = roost\n}']),
      ...extra,
      '',
    ].join('\n'),
  );
  for (const u of opts.auth ? [] : users) {
    const r = await roost(['-c', conf, 'user', 'add', u, '-p', 'secret'], { cwd: dir });
    if (r.code !== 0) throw new Error(`user add ${u}: ${r.stderr}`);
  }
  let out = '';
  const server: ChildProcess = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // `data under` comes last, once the admin socket is up too (tests talk to it at once).
  await waitUntil('the listeners and the admin socket', () => {
    if (server.exitCode !== null) throw new Error(`roost serve exited (${server.exitCode}): ${out}`);
    return out.includes(`IMAP listening on 127.0.0.1:${imapPort}`) && out.includes(`LMTP listening on 127.0.0.1:${lmtpPort}`) && out.includes('roost: data under ');
  }, 60_000);
  const end = async (signal: NodeJS.Signals) => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill(signal);
    await exited;
  };
  return {
    conf,
    imapPort,
    lmtpPort,
    output: () => out,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}
