// The admin channel to a running server (Dovecot's doveadm-server socket): a unix socket under
// base_dir, mode 0600, so only the server's own user can reach it. One JSON request per line, one
// JSON reply per line; the CLI (`roost who`, `kick`, `reload`, `stop`, `log errors`, and
// `restore` and `deliver` for their holds on a user) is the client.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';

/** The socket's name under base_dir. */
export const ADMIN_SOCKET_NAME = 'roost-admin';

export function adminSocketPath(baseDir: string): string {
  return join(baseDir, ADMIN_SOCKET_NAME);
}

export interface AdminRequest {
  cmd: string;
  args?: string[];
}

export type AdminReply = { ok: true; result: unknown } | { ok: false; error: string };

export type AdminHandler = (args: string[]) => Promise<unknown> | unknown;

/**
 * A handler's answer that holds something (a user lock) for as long as the client stays
 * connected: the reply goes out and the connection stays open; `release` runs when it closes, so
 * a client that dies releases it too.
 */
export class AdminHold {
  constructor(
    readonly result: unknown,
    readonly release: () => void,
  ) {}
}

/** A request the server refuses; the text goes back to the CLI as is. */
export class AdminError extends Error {}

/** The socket could not be reached at all; `code` is the system error (ENOENT: no server runs). */
export class AdminConnectError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export interface AdminServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Whether something answers on the socket (a second server must not take it over; `stop` waits for silence). */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export async function startAdminServer(path: string, handlers: Record<string, AdminHandler>): Promise<AdminServer> {
  mkdirSync(dirname(path), { recursive: true });
  if (await answers(path)) throw new Error(`${path}: another roost server is running (its admin socket answers)`);
  rmSync(path, { force: true }); // a stale socket from a server that did not stop cleanly
  const server = net.createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      // A request is one short line; anything longer is not our client.
      if (buffered.length > 64 * 1024) return void socket.destroy();
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      const line = buffered.slice(0, nl);
      buffered = '';
      void answer(line).then((reply) => {
        if (!(reply instanceof AdminHold)) return void socket.end(JSON.stringify(reply) + '\n');
        if (socket.destroyed) return reply.release();
        socket.once('close', reply.release);
        socket.write(JSON.stringify({ ok: true, result: reply.result }) + '\n');
      });
    });
  });
  const answer = async (line: string): Promise<AdminReply | AdminHold> => {
    let req: AdminRequest;
    try {
      req = JSON.parse(line) as AdminRequest;
    } catch {
      return { ok: false, error: 'Invalid request' };
    }
    const handler = typeof req.cmd === 'string' && Object.hasOwn(handlers, req.cmd) ? handlers[req.cmd]! : null;
    if (!handler) return { ok: false, error: `Unknown command: ${String(req.cmd)}` };
    try {
      const result = await handler(Array.isArray(req.args) ? req.args.map(String) : []);
      return result instanceof AdminHold ? result : { ok: true, result };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  };
  // Created with mode 0600 from the start (umask), not opened to all and narrowed afterwards.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(path, 0o600);
  return {
    path,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
    },
  };
}

/** Sends one request to the running server; rejects when no server answers or it refuses. */
export function adminRequest(path: string, req: AdminRequest): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let data = '';
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(JSON.stringify(req) + '\n'));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `connect(${path}) failed: ${err.code === 'ENOENT' ? 'No such file or directory' : 'Connection refused'} (is roost serve running?)` : `${path}: ${err.message}`)),
    );
    socket.once('end', () => {
      try {
        const reply = JSON.parse(data) as AdminReply;
        if (reply.ok) resolve(reply.result);
        else reject(new AdminError(reply.error));
      } catch {
        reject(new Error(`${path}: invalid reply from the server`));
      }
    });
  });
}

/** What a held request gave; `release` closes the connection, which releases it on the server. */
export interface HeldReply {
  result: unknown;
  release(): Promise<void>;
}

/** Sends a request whose answer holds something on the server until `release` (see AdminHold). */
export function adminHoldRequest(path: string, req: AdminRequest): Promise<HeldReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let data = '';
    let answered = false;
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(JSON.stringify(req) + '\n'));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', (chunk: string) => {
      if (answered) return;
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      answered = true;
      let reply: AdminReply;
      try {
        reply = JSON.parse(data.slice(0, nl)) as AdminReply;
      } catch {
        socket.destroy();
        return reject(new Error(`${path}: invalid reply from the server`));
      }
      if (!reply.ok) {
        socket.destroy();
        return reject(new AdminError(reply.error));
      }
      resolve({
        result: reply.result,
        release: async () => {
          socket.end();
          await closed;
        },
      });
    });
    let connected = false;
    socket.once('connect', () => (connected = true));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (answered) return;
      reject(connected ? new Error(`${path}: ${err.message}`) : new AdminConnectError(`${path}: ${err.message}`, err.code));
    });
    socket.once('end', () => {
      if (!answered) reject(new Error(`${path}: the server closed the connection`));
    });
  });
}
