// The auth service for other programs (Dovecot's `service auth`): Dovecot's auth client protocol on
// the unix (or TCP) listeners of `service auth { unix_listener /var/spool/postfix/private/auth {
// mode = 0660  user = postfix  group = postfix } }`, so Postfix (`smtpd_sasl_type = dovecot`) and
// other SMTP servers check passwords against the same passdb chain, mechanisms, master users and
// auth penalty as IMAP logins. Listeners named auth-master or auth-userdb speak Dovecot's other
// (master/userdb) protocol, which Roost does not serve; they are skipped with a warning.
import { basename } from 'node:path';
import { SASL_MECHANISMS } from '../auth/index.js';
import type { Settings } from '../config/index.js';
import type { ListenAddress } from '../listeners/group.js';
import { openReloadableListeners, type ListenerGeneration } from '../listeners/reloadable.js';
import { inetListenAddresses, type InetAddress } from '../listeners/inet.js';
import { resolveUnixListener, type UnixListenerSpec } from '../listeners/unix.js';
import { Logger } from '../log/logger.js';
import type { ServerContext } from '../mail-user/context.js';
import { AuthClientConnection } from './connection.js';

export interface AuthServerOptions {
  /** Unix listeners; default: `service auth { unix_listener }` (auth-client protocol ones). */
  unix?: UnixListenerSpec[];
  /** TCP listeners; default: `service auth { inet_listener }`. */
  inet?: InetAddress[];
  /** Default: auth_client_max_line_length. */
  maxLineLength?: number;
}

export interface AuthServer {
  readonly addresses: ListenAddress[];
  /** Open client connections that use this context (a reload retires the old one when none do). */
  connectionsUsing(ctx: ServerContext): number;
  /**
   * New connections get the new context (passdb/userdb, mechanisms, limits); open ones keep
   * theirs. Listeners whose address changed are bound again.
   */
  reload(ctx: ServerContext): Promise<void>;
  close(): Promise<void>;
}

const OTHER_PROTOCOL_SOCKETS = new Set(['auth-master', 'auth-userdb', 'auth-worker', 'auth-login', 'token-login', 'tokenlogin']);

/** The auth-client listeners of the configuration, and warnings for the ones Roost skips. */
export function authClientListeners(settings: Settings): { unix: UnixListenerSpec[]; skipped: string[] } {
  const unix: UnixListenerSpec[] = [];
  const skipped: string[] = [];
  for (const l of settings.service.auth?.unix_listener ?? []) {
    if (OTHER_PROTOCOL_SOCKETS.has(basename(l.path))) skipped.push(l.path);
    else unix.push(resolveUnixListener(l, settings.base_dir));
  }
  return { unix, skipped };
}

/** Whether the configuration asks for the auth service (any auth-client listener). */
export function authServerConfigured(settings: Settings): boolean {
  return authClientListeners(settings).unix.length > 0 || inetListenAddresses(settings.service.auth, settings.listen).length > 0;
}

/** One configuration's listeners and connection handler for the auth service. */
function generationFor(ctx: ServerContext, opts: AuthServerOptions, nextCuid: () => number): ListenerGeneration<ServerContext> {
  const settings = ctx.settings;
  const log = new Logger('auth: ');
  // Mechanisms Roost does not implement (DIGEST-MD5, NTLM, GSSAPI, ...) are not announced.
  const known = SASL_MECHANISMS as readonly string[];
  const wanted = settings.auth_mechanisms.map((m) => m.toUpperCase());
  const offered = wanted.filter((m) => known.includes(m));
  for (const m of wanted.filter((x) => !known.includes(x))) log.warning(`auth_mechanisms: ${m} is not supported by Roost (not offered)`);
  const configured = authClientListeners(settings);
  for (const path of configured.skipped) log.warning(`service auth unix_listener ${path}: Roost serves only the auth client protocol here (ignored)`);
  const maxLineLength = opts.maxLineLength ?? settings.auth_client_max_line_length;
  const clientLimit = settings.service.auth?.client_limit ?? 1000;
  return {
    owner: ctx,
    inet: opts.inet ?? inetListenAddresses(settings.service.auth, settings.listen),
    unix: opts.unix ?? configured.unix,
    clientLimit,
    onLimit: () => log.warning(`service auth: client_limit (${clientLimit}) reached, connection refused`),
    accept: (socket) => void new AuthClientConnection(socket, { auth: ctx.auth, mechanisms: offered, cuid: nextCuid(), maxLineLength, log }),
  };
}

export async function startAuthServer(ctx: ServerContext, opts: AuthServerOptions = {}): Promise<AuthServer> {
  // Client ids go on counting across reloads (Dovecot's auth process numbers its clients).
  let cuid = 0;
  const nextCuid = () => ++cuid;
  const listeners = await openReloadableListeners('service(auth)', generationFor(ctx, opts, nextCuid));
  return {
    get addresses() {
      return listeners.addresses;
    },
    connectionsUsing: (context) => listeners.connectionsUsing(context),
    // A reload keeps the test-given addresses (opts) and takes everything else from the new context.
    reload: (context) => listeners.reload(generationFor(context, opts, nextCuid)),
    close: () => listeners.close(),
  };
}
