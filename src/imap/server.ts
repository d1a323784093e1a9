// The IMAP server: listeners from `service imap-login { inet_listener imap/imaps { port ssl } }` on
// the `listen` addresses (or an override for tests), the pre-login client_limit, one ImapConnection +
// ImapSession per socket, and an orderly close.
import { connectionOpened } from '../metrics/metrics.js';
import net from 'node:net';
import tls from 'node:tls';
import { LoginQueue } from './login-queue.js';
import { settingsFor, type InetListenerSettings } from '../config/index.js';
import { Logger } from '../log/logger.js';
import type { ServerContext } from '../mail-user/context.js';
import type { MailSessionInfo } from '../mail-user/session-info.js';
import { ImapConnection } from './connection.js';
import { ImapSession, type ServerShared } from './session.js';
import { createTlsContext, loadTlsMaterial, minTlsVersion, type TlsMaterial } from './tls.js';

export interface ImapListenerSpec {
  name: string;
  address: string;
  /** 0 = any free port (tests). */
  port: number;
  /** Implicit TLS (imaps). */
  ssl: boolean;
}

export interface ImapServerOptions {
  /** Replaces the configured listeners (tests: `[{ name: 'imap', address: '127.0.0.1', port: 0, ssl: false }]`). */
  listeners?: ImapListenerSpec[];
  /** Overrides "is this connection secure without TLS" (Dovecot: client IP = server IP). */
  isTrustedConnection?: (conn: { remoteIp: string; localIp: string }) => boolean;
}

export interface BoundListener extends ImapListenerSpec {
  /** The port actually bound (differs from `port` when that was 0). */
  boundPort: number;
}

/** One logged-in client connection, as `roost who` lists it. */
export interface ImapSessionInfo extends MailSessionInfo {
  service: 'imap';
}

export interface ImapServer {
  /** The listeners now bound (replaced by reload()). */
  listeners: BoundListener[];
  /** Port of the first listener with this name (`imap`, `imaps`). */
  port(name: string): number;
  /** Open client connections. */
  readonly connectionCount: number;
  /** Logged-in sessions. */
  sessions(): ImapSessionInfo[];
  /** Logged-in sessions that use this context (a reload retires the old one when none do). */
  sessionsUsing(ctx: ServerContext): number;
  /** Ends the logged-in sessions `match` selects with Dovecot's `* BYE Server shutting down.`; returns them. */
  kick(match: (s: ImapSessionInfo) => boolean): Promise<ImapSessionInfo[]>;
  /**
   * Serves new connections with a new context (settings, auth, Lua); open sessions keep theirs.
   * Listeners whose name, address, port, ssl or TLS files changed are closed and bound again;
   * the others keep their socket. Throws (and changes nothing) when a new listener cannot bind.
   */
  reload(ctx: ServerContext): Promise<void>;
  /** Open connections not logged in yet (what `service imap-login { client_limit }` bounds). */
  readonly preLoginCount: number;
  close(): Promise<void>;
}

const log = new Logger('imap: ');

/** Listener specs from the configuration; `*` and `::` mean every IPv4 / IPv6 address. */
export function configuredListeners(listen: string[], configured: InetListenerSettings[]): ImapListenerSpec[] {
  const out: ImapListenerSpec[] = [];
  for (const l of configured) {
    if (l.port === 0) continue;
    const addresses = l.address ? l.address.split(/[\s,]+/).filter(Boolean) : listen;
    for (const a of addresses) out.push({ name: l.name, address: a === '*' ? '0.0.0.0' : a, port: l.port, ssl: l.ssl });
  }
  return out;
}

export async function startImapServer(ctx: ServerContext, opts: ImapServerOptions = {}): Promise<ImapServer> {
  const userIpCounts = new Map<string, number>();
  const sessions = new Set<ImapSession>();
  let bound: { key: string; spec: BoundListener; server: net.Server }[] = [];

  const prepare = (context: ServerContext) => {
    const settings = settingsFor(context.settings, 'imap');
    const service = settings.service['imap-login'];
    const material = loadTlsMaterial(settings, log);
    const shared: ServerShared = {
      ctx: context,
      settings,
      tlsContext: material ? createTlsContext(material, settings) : null,
      // Dovecot treats a connection from the server's own address as secured (login-common).
      isTrustedConnection: opts.isTrustedConnection ?? ((c) => c.remoteIp !== '' && c.remoteIp === c.localIp),
      userIpCounts,
      loginLog: new Logger('imap-login: '),
      onLoggedIn: (session) => leaveQueue.get(session)?.(),
    };
    const specs = opts.listeners ?? configuredListeners(settings.listen, service?.inet_listener ?? []);
    return { shared, material, specs, clientLimit: service?.client_limit ?? 1000 };
  };
  let current = prepare(ctx);
  const queue = new LoginQueue(current.clientLimit, (limit) =>
    // Dovecot's master process warning, word for word.
    log.warning(`service(imap-login): client_limit (${limit}) reached, client connections are being dropped`),
  );
  /** How each session not logged in yet leaves the queue. */
  const leaveQueue = new Map<ImapSession, () => void>();
  /** imaps connections still in their TLS handshake, by remote address and port. */
  const handshaking = new Map<string, () => void>();
  const peerKey = (s: net.Socket) => `${s.remoteAddress}:${s.remotePort}`;

  const accept = (socket: net.Socket, implicitTls: boolean) => {
    socket.setNoDelay(true);
    const { shared } = current;
    const settings = shared.settings;
    if (implicitTls) {
      // Counted since the TCP accept: its place goes to the session now.
      const key = peerKey(socket);
      handshaking.get(key)?.();
      handshaking.delete(key);
    }
    const conn = new ImapConnection(
      socket,
      { maxLineLength: settings.imap_max_line_length, maxLiteralSize: settings.mail_max_message_size, literalMinus: settings.imap_literal_minus },
      implicitTls,
    );
    const session = new ImapSession(shared, conn);
    sessions.add(session);
    const connectionClosed = connectionOpened('imap');
    leaveQueue.set(
      session,
      queue.admit(() => {
        session.disconnectReason = 'Connection queue full';
        conn.close('* BYE Connection queue full\r\n');
        conn.destroy();
      }),
    );
    conn.start({
      onEvent: (ev) => session.onEvent(ev),
      onClose: () => {
        connectionClosed();
        leaveQueue.get(session)?.();
        leaveQueue.delete(session);
        sessions.delete(session);
        void session.end('disconnect').catch((err: unknown) => log.error(`session end failed: ${String(err)}`));
      },
      onTimeout: () => {
        conn.close('* BYE Disconnected for inactivity.\r\n');
      },
    });
    session.greet();
  };

  /** What identifies a bound listener: a change in any of these means binding it again. */
  const keyOf = (spec: ImapListenerSpec, material: TlsMaterial | null) =>
    JSON.stringify([spec.name, spec.address, spec.port, spec.ssl, spec.ssl ? [material?.cert, material?.key] : null]);

  const bind = async (spec: ImapListenerSpec, material: TlsMaterial | null) => {
    const server = spec.ssl
      ? tls.createServer({ cert: material!.cert, key: material!.key, minVersion: minTlsVersion(current.shared.settings.ssl_min_protocol) }, (s) => accept(s, true))
      : net.createServer((s) => accept(s, false));
    // A failed TLS handshake is the client's problem, not the server's.
    server.on('tlsClientError', () => undefined);
    if (spec.ssl) {
      server.on('connection', (raw: net.Socket) => {
        const key = peerKey(raw);
        const leave = queue.admit(() => raw.destroy());
        handshaking.set(key, leave);
        raw.once('close', () => {
          leave();
          if (handshaking.get(key) === leave) handshaking.delete(key);
        });
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(spec.port, spec.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error(`listener ${spec.name}: ${err.message}`));
    const address = server.address() as net.AddressInfo;
    return { key: keyOf(spec, material), spec: { ...spec, boundPort: address.port }, server };
  };

  const closeServer = (s: net.Server) => new Promise<void>((resolve) => s.close(() => resolve()));
  /**
   * Stops listening now; the connections it accepted stay open (server.close()'s callback would
   * wait for them all to end). The port is free once close() returns.
   */
  const stopListening = (s: net.Server) => void s.close();

  /** Binds what `next` needs that is not bound yet, then closes what it no longer needs. */
  const rebind = async (next: ReturnType<typeof prepare>) => {
    const kept: typeof bound = [];
    const added: typeof bound = [];
    const wanted = new Set<string>();
    try {
      for (const spec of next.specs) {
        if (spec.ssl && !next.material) {
          log.warning(`inet_listener ${spec.name}: ssl = yes but no TLS certificate: listener not started`);
          continue;
        }
        const key = keyOf(spec, next.material);
        wanted.add(key);
        const same = bound.find((b) => b.key === key);
        if (same) kept.push(same);
        // A listener moving to a port another one frees is bound after that one closes.
        else if (!bound.some((b) => b.spec.address === spec.address && b.spec.port === spec.port && spec.port !== 0)) added.push(await bind(spec, next.material));
      }
      const dropped = bound.filter((b) => !wanted.has(b.key));
      for (const b of dropped) stopListening(b.server);
      for (const spec of next.specs) {
        const key = keyOf(spec, next.material);
        if (wanted.has(key) && !kept.some((b) => b.key === key) && !added.some((b) => b.key === key)) added.push(await bind(spec, next.material));
      }
    } catch (err) {
      for (const b of added) stopListening(b.server);
      throw err;
    }
    bound = [...kept, ...added];
  };

  await rebind(current);

  const infoOf = (s: ImapSession): ImapSessionInfo => ({
    username: s.user?.username ?? '',
    service: 'imap',
    remoteIp: s.conn.remoteIp,
    sessionId: s.sessionId,
    connectedAt: s.connectedAt,
  });
  const loggedIn = () => [...sessions].filter((s) => s.user !== null);

  return {
    get listeners() {
      return bound.map((b) => b.spec);
    },
    port(name) {
      const l = bound.find((x) => x.spec.name === name);
      if (!l) throw new Error(`No IMAP listener named ${name}`);
      return l.spec.boundPort;
    },
    get connectionCount() {
      return sessions.size;
    },
    sessions: () => loggedIn().map(infoOf),
    sessionsUsing: (context) => [...sessions].filter((s) => s.shared.ctx === context).length,
    async kick(match) {
      const chosen = loggedIn().filter((s) => match(infoOf(s)));
      const infos = chosen.map(infoOf);
      for (const session of chosen) {
        session.conn.close('* BYE Server shutting down.\r\n');
        sessions.delete(session);
        await session.end('shutdown');
      }
      return infos;
    },
    async reload(context) {
      const next = prepare(context);
      await rebind(next);
      current = next;
      queue.limit = next.clientLimit;
    },
    get preLoginCount() {
      return queue.size;
    },
    async close() {
      const closing = bound.map((b) => closeServer(b.server));
      for (const session of [...sessions]) {
        // Dovecot's shutdown text.
        session.conn.close('* BYE Server shutting down.\r\n');
        session.conn.destroy();
        await session.end('shutdown');
      }
      sessions.clear();
      queue.clear();
      leaveQueue.clear();
      await Promise.all(closing);
    },
  };
}
