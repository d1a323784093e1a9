// The LMTP service (RFC 2033): smtp-server in LMTP mode does the protocol (LHLO, PIPELINING,
// ENHANCEDSTATUSCODES, 8BITMIME, SMTPUTF8, SIZE, dot-unstuffing); this file wires its callbacks to
// recipient resolution (recipients.ts) and delivery (data.ts), and opens the listeners of
// `service lmtp { inet_listener lmtp { } unix_listener lmtp { } }`.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { settingsFor, type Settings } from '../config/index.js';
import { Logger, rootLogger } from '../log/logger.js';
import type { ServerContext } from '../mail-user/context.js';
import type { MailSessionInfo } from '../mail-user/session-info.js';
import { errorText } from '../mail-user/mail-user.js';
import { newSessionId } from '../mail-user/session-id.js';
import { receiveAndDeliver, type DataOptions } from './data.js';
import { AcceptedRecipients, resolveRecipient } from './recipients.js';
import { installOwnEnhancedCodes } from './replies.js';
import { installDomainlessRecipients } from './domainless-recipients.js';
import type net from 'node:net';
import { openListeners, type ListenerGroup } from '../listeners/group.js';
import { inetListenAddresses } from '../listeners/inet.js';
import { resolveUnixListener, type UnixListenerSpec } from '../listeners/unix.js';
import { writeInBursts } from '../listeners/write-burst.js';

export type LmtpListenAddress = { host: string; port: number } | { path: string };

export interface LmtpServerOptions {
  /** TCP listeners; default: `service lmtp { inet_listener }` on `listen` (127.0.0.1:2424). */
  inet?: { host: string; port: number }[];
  /** Unix socket paths (mode 0600); default: `service lmtp { unix_listener }` with its mode, user and group. */
  unix?: string[];
  /** Messages above this many bytes are spooled to a temp file (default 1 MiB). */
  spoolMemoryLimit?: number;
  /** Where spooled messages go (default `mail_temp_dir`-like: the OS temp folder). */
  spoolDir?: string;
}

export interface LmtpServer {
  readonly addresses: LmtpListenAddress[];
  /** Open connections that use this context (a reload retires the old one when none do). */
  connectionsUsing(ctx: ServerContext): number;
  /**
   * New connections get a new context (settings, auth, Lua); open ones finish with theirs. When
   * the listeners changed, the old ones stop listening (their connections go on) and the new
   * ones are opened.
   */
  reload(ctx: ServerContext): Promise<void>;
  /**
   * The recipients of open transactions, from their accepted RCPT until their replies after DATA
   * (what Dovecot's lmtp registers with anvil, so `doveadm who` lists them: service lmtp, no IP).
   */
  sessions(): MailSessionInfo[];
  /**
   * Ends the connections whose open transaction has a recipient `match` selects, with Dovecot's
   * `421 4.3.2 <hostname> Shutting down` (what SIGTERM from `doveadm kick` makes its lmtp send).
   * Nothing was acknowledged, so the client delivers again later. A message already received
   * whole is stored and answered first; the connection ends after its replies. Returns the
   * matching recipients.
   */
  kick(match: (s: MailSessionInfo) => boolean): MailSessionInfo[];
  close(): Promise<void>;
}

/** The part of smtp-server's connection object a kick uses (`send` carries our own enhanced code, replies.ts). */
interface KickableConnection {
  session?: SMTPServerSession;
  send(code: number, data: string): void;
  close(): void;
}

/** Per connection: Dovecot-style ids and the recipients resolved in the current transaction. */
interface ConnectionState {
  sessionId: string;
  transactions: number;
  transactionId: string;
  rcptCommands: number;
  recipients: AcceptedRecipients;
  /** Dovecot's lmtp-server connection name in log lines: `<ip>:<port> [<n>]`, n counting connections. */
  peer: string;
  session: SMTPServerSession;
  /** When each accepted recipient's RCPT was accepted, by recipient id (`roost who`). */
  acceptedAt: Map<string, number>;
  /** smtp-server's connection (for a kick); null once it closed. */
  connection(): KickableConnection | null;
  hostname: string;
  /** Between DATA's 354 and its replies (Dovecot's `state=DATA` in log lines). */
  inData: boolean;
  /** The whole message arrived and is being stored: a kick waits for the replies. */
  storing: boolean;
  /** A kick came while storing: the connection ends once the replies are out. */
  kickAfterReplies: boolean;
}

const kickLog = new Logger(`lmtp(${process.pid}): `);

/** Sends Dovecot's shutdown reply and closes (lmtp-client.c: `421 4.3.2 <hostname> Shutting down`). */
function endConnection(st: ConnectionState): void {
  const envelope = st.session.envelope;
  const state = st.inData ? 'DATA' : envelope.rcptTo.length > 0 ? 'RCPT TO' : envelope.mailFrom ? 'MAIL FROM' : 'READY';
  kickLog.info(`Disconnect from ${plainIp(st.session.remoteAddress)}: Shutting down (state=${state})`);
  const connection = st.connection();
  connection?.send(421, `4.3.2 ${st.hostname} Shutting down`);
  connection?.close();
}

function plainIp(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

function unixListeners(s: Settings): UnixListenerSpec[] {
  return (s.service.lmtp?.unix_listener ?? []).map((l) => resolveUnixListener(l, s.base_dir));
}

export async function startLmtpServer(ctx: ServerContext, opts: LmtpServerOptions = {}): Promise<LmtpServer> {
  installOwnEnhancedCodes();
  installDomainlessRecipients();
  const states = new Map<string, ConnectionState>();
  const sockets = new Map<net.Socket, ServerContext>();
  let current = { ctx, smtp: smtpServerFor(ctx, opts, states) };
  const addressesOf = (settings: Settings) => ({
    inet: opts.inet ?? inetListenAddresses(settings.service.lmtp, settings.listen),
    unix: opts.unix?.map((path) => ({ path, mode: 0o600, user: '', group: '' })) ?? unixListeners(settings),
  });
  const open = async (settings: Settings) => {
    const addresses = addressesOf(settings);
    const group = await openListeners({
      label: 'service(lmtp)',
      ...addresses,
      accept(socket) {
        socket.setNoDelay(true); // replies are small writes; Nagle + delayed ACK would add 40 ms
        // Replies to pipelined commands answered in one burst (MAIL, RCPT, DATA) share one write.
        writeInBursts(socket);
        sockets.set(socket, current.ctx);
        socket.once('close', () => sockets.delete(socket));
        current.smtp.connect(socket, {});
      },
    });
    return { group, key: JSON.stringify(addresses) };
  };
  let listeners = await open(settingsFor(ctx.settings, 'lmtp'));
  /** Groups that stopped listening on a reload; their connections end on their own or at close. */
  const retired: ListenerGroup[] = [];
  return {
    get addresses() {
      return listeners.group.addresses;
    },
    connectionsUsing: (context) => [...sockets.values()].filter((c) => c === context).length,
    async reload(context) {
      const settings = settingsFor(context.settings, 'lmtp');
      const smtp = smtpServerFor(context, opts, states);
      if (JSON.stringify(addressesOf(settings)) !== listeners.key) {
        // The same address may be in the new list too: free it first, then open the new set.
        listeners.group.stopListening();
        retired.push(listeners.group);
        listeners = await open(settings);
      }
      current = { ctx: context, smtp };
    },
    sessions: () => [...states.values()].flatMap(openRecipients),
    kick(match) {
      const kicked: MailSessionInfo[] = [];
      for (const st of [...states.values()]) {
        const chosen = openRecipients(st).filter(match);
        if (chosen.length === 0) continue;
        kicked.push(...chosen);
        if (st.storing) st.kickAfterReplies = true;
        else endConnection(st);
      }
      return kicked;
    },
    // Open sessions end now. A delivery in progress commits synchronously (never cut); its WAL
    // fsync finishes in the threadpool, and closing the store syncs whatever is still pending.
    async close() {
      await Promise.all([listeners.group, ...retired].map((g) => g.close()));
    },
  };
}

/** The recipients of the connection's open transaction (none after RSET or the DATA replies: smtp-server resets the envelope). */
function openRecipients(st: ConnectionState): MailSessionInfo[] {
  if (st.session.envelope.rcptTo.length === 0) return [];
  return st.recipients.distinct().map((r) => ({
    username: r.user,
    service: 'lmtp',
    remoteIp: '',
    sessionId: r.id,
    connectedAt: st.acceptedAt.get(r.id) ?? Date.now(),
  }));
}

/** The protocol side for one configuration: smtp-server with callbacks bound to `ctx`. */
function smtpServerFor(ctx: ServerContext, opts: LmtpServerOptions, states: Map<string, ConnectionState>): SMTPServer {
  const settings = settingsFor(ctx.settings, 'lmtp');
  const dataOptions: DataOptions = {
    ctx,
    settings,
    spoolDir: opts.spoolDir ?? join(tmpdir(), 'roost-lmtp-spool'),
    memoryLimit: opts.spoolMemoryLimit ?? 1024 * 1024,
  };
  // Dovecot's lmtp-server numbers the connections of its process: `conn <ip>:<port> [n]`.
  let connections = 0;
  const stateOf = (session: SMTPServerSession): ConnectionState => {
    let st = states.get(session.id);
    if (!st) {
      const sessionId = newSessionId();
      const peer = `${plainIp(session.remoteAddress)}:${session.remotePort} [${++connections}]`;
      // Looked up when needed: a kick is rare, connections are many.
      const connection = () => [...(smtp as unknown as { connections: Set<KickableConnection> }).connections].find((c) => c.session === session) ?? null;
      st = {
        sessionId, transactions: 0, transactionId: sessionId, rcptCommands: 0, recipients: new AcceptedRecipients(), peer,
        session, acceptedAt: new Map(), connection, hostname: settings.hostname, inData: false, storing: false, kickAfterReplies: false,
      };
      states.set(session.id, st);
    }
    return st;
  };
  const tls = settings.ssl !== 'no' && settings.ssl_cert !== '' && settings.ssl_key !== '';

  const options: SMTPServerOptions = {
    lmtp: true,
    name: settings.hostname,
    banner: 'Roost ready.',
    // No AUTH over LMTP (Dovecot's lmtp has none); STARTTLS only when a certificate is configured.
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(tls ? { key: settings.ssl_key, cert: settings.ssl_cert } : {}),
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    // Advertised in LHLO and checked against MAIL FROM SIZE=; the transfer itself is limited in data.ts.
    size: settings.mail_max_message_size || undefined,
    disableReverseLookup: true,
    logger: false,
    onConnect(session, callback) {
      stateOf(session);
      callback();
    },
    onClose(session) {
      states.delete(session.id);
    },
    onMailFrom(_address, session, callback) {
      // A new transaction (Dovecot: the first uses the session id, later ones `<session>:T<n>`).
      const st = stateOf(session);
      st.transactions++;
      st.transactionId = st.transactions === 1 ? st.sessionId : `${st.sessionId}:T${st.transactions}`;
      st.rcptCommands = 0;
      st.recipients.clear();
      st.acceptedAt.clear();
      callback();
    },
    onRcptTo(address, session, callback) {
      const st = stateOf(session);
      st.rcptCommands++;
      const id = st.rcptCommands === 1 ? st.transactionId : `${st.transactionId}:R${st.rcptCommands}`;
      if (st.recipients.acceptDuplicate(address.address)) return callback();
      const rc = { ctx, settings, localIp: plainIp(session.localAddress), remoteIp: plainIp(session.remoteAddress) };
      resolveRecipient(rc, address.address, address.dsn?.orcpt, id).then(
        (r) => {
          if (r instanceof Error) return callback(r);
          st.recipients.add(address.address, r);
          st.acceptedAt.set(r.id, Date.now());
          callback();
        },
        (err: unknown) => {
          rootLogger.error(`lmtp: RCPT TO ${address.address} failed: ${errorText(err)}`);
          const e = Object.assign(new Error(`4.3.0 <${address.address}> Temporary internal error`), { responseCode: 451 });
          callback(e);
        },
      );
    },
    onData(stream, session, callback) {
      const st = stateOf(session);
      // smtp-server keeps one envelope entry per address ignoring case, and sends as many replies
      // as the array given here has: one per accepted RCPT, duplicates included.
      const accepted = st.recipients;
      const from = session.envelope.mailFrom;
      // The final dot arrived: from now on the message is stored, and a kick waits for the replies.
      st.inData = true;
      stream.once('end', () => (st.storing = true));
      /** smtp-server sends the replies inside callback(); then a kick that waited ends the connection. */
      const reply = (replies: (string | Error)[]) => {
        callback(null, replies);
        st.inData = st.storing = false;
        if (st.kickAfterReplies) {
          st.kickAfterReplies = false;
          endConnection(st);
        }
      };
      receiveAndDeliver(dataOptions, stream, {
        transactionId: st.transactionId,
        envelopeFrom: from ? from.address : '',
        heloName: session.hostNameAppearsAs || plainIp(session.remoteAddress),
        localIp: plainIp(session.localAddress),
        remoteIp: plainIp(session.remoteAddress),
        peer: st.peer,
        recipients: accepted.distinct(),
        acceptedRcpts: accepted.count,
      }).then(
        (replies) => reply(accepted.spread(replies)),
        (err: unknown) => {
          // The client went away mid-DATA (nothing stored), or an unexpected failure.
          if (!stream.destroyed) rootLogger.error(`lmtp: DATA failed: ${errorText(err)}`);
          const failure = Object.assign(new Error('4.3.0 Temporary internal error'), { responseCode: 451 });
          reply(Array.from({ length: accepted.count }, () => failure));
        },
      );
    },
  };
  const smtp = new SMTPServer(options);
  smtp.on('error', (err: Error) => rootLogger.error(`lmtp: ${err.message}`));

  return smtp;
}
