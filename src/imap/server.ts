// The IMAP server: listeners from `service imap-login { inet_listener imap/imaps { port ssl } }` on
// the `listen` addresses (or an override for tests), the pre-login client_limit, one ImapConnection +
// ImapSession per socket, and an orderly close.
import net from 'node:net';
import tls from 'node:tls';
import { settingsFor, type InetListenerSettings } from '../config/index.js';
import { Logger } from '../log/logger.js';
import type { ServerContext } from '../mail-user/context.js';
import { ImapConnection } from './connection.js';
import { LoginQueue } from './login-queue.js';
import { ImapSession, type ServerShared } from './session.js';
import { createTlsContext, loadTlsMaterial, minTlsVersion } from './tls.js';

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

export interface ImapServer {
  listeners: BoundListener[];
  /** Port of the first listener with this name (`imap`, `imaps`). */
  port(name: string): number;
  /** Open client connections. */
  readonly connectionCount: number;
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
  const settings = settingsFor(ctx.settings, 'imap');
  const service = settings.service['imap-login'];
  const specs = opts.listeners ?? configuredListeners(settings.listen, service?.inet_listener ?? []);
  const loginLimit = service?.client_limit ?? 1000;
  const material = loadTlsMaterial(settings, log);
  const tlsContext = material ? createTlsContext(material, settings) : null;
  const shared: ServerShared = {
    ctx,
    settings,
    tlsContext,
    // Dovecot treats a connection from the server's own address as secured (login-common).
    isTrustedConnection: opts.isTrustedConnection ?? ((c) => c.remoteIp !== '' && c.remoteIp === c.localIp),
    userIpCounts: new Map(),
    loginLog: new Logger('imap-login: '),
    onLoggedIn: (session) => leaveQueue.get(session)?.(),
  };
  const sessions = new Set<ImapSession>();
  const queue = new LoginQueue(loginLimit, (limit) =>
    // Dovecot's master process warning, word for word.
    log.warning(`service(imap-login): client_limit (${limit}) reached, client connections are being dropped`),
  );
  /** How each session not logged in yet leaves the queue. */
  const leaveQueue = new Map<ImapSession, () => void>();
  /** imaps connections still in their TLS handshake, by remote address and port. */
  const handshaking = new Map<string, () => void>();
  const peerKey = (s: net.Socket) => `${s.remoteAddress}:${s.remotePort}`;
  const servers: net.Server[] = [];
  const listeners: BoundListener[] = [];

  const accept = (socket: net.Socket, implicitTls: boolean) => {
    socket.setNoDelay(true);
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
        sessions.delete(session);
        leaveQueue.get(session)?.();
        leaveQueue.delete(session);
        void session.end('disconnect').catch((err: unknown) => log.error(`session end failed: ${String(err)}`));
      },
      onTimeout: () => {
        conn.close('* BYE Disconnected for inactivity.\r\n');
      },
    });
    session.greet();
  };

  for (const spec of specs) {
    if (spec.ssl && !tlsContext) {
      log.warning(`inet_listener ${spec.name}: ssl = yes but no TLS certificate: listener not started`);
      continue;
    }
    const server = spec.ssl
      ? tls.createServer({ cert: material!.cert, key: material!.key, minVersion: minTlsVersion(settings.ssl_min_protocol) }, (s) => accept(s, true))
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
    servers.push(server);
    listeners.push({ ...spec, boundPort: address.port });
  }

  return {
    listeners,
    port(name) {
      const l = listeners.find((x) => x.name === name);
      if (!l) throw new Error(`No IMAP listener named ${name}`);
      return l.boundPort;
    },
    get connectionCount() {
      return sessions.size;
    },
    get preLoginCount() {
      return queue.size;
    },
    async close() {
      const closing = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const session of [...sessions]) {
        // Dovecot's shutdown text.
        session.conn.close('* BYE Server shutting down.\r\n');
        session.conn.destroy();
        await session.end('disconnect');
      }
      sessions.clear();
      queue.clear();
      leaveQueue.clear();
      await Promise.all(closing);
    },
  };
}
