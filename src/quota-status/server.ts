// The quota-status policy service (Dovecot's `service quota-status { executable = quota-status
// -p postfix }`): Postfix asks with `check_policy_service inet:127.0.0.1:12340` (or unix:) before
// accepting a recipient, and over-quota mail is refused during the SMTP transaction instead of
// bounced later. The answer uses the same quota_rule and usage the LMTP delivery enforces
// (mail-user/delivery.ts quotaVerdict), and Dovecot's plugin settings and defaults:
//   quota_status_success  (OK)        quota_status_nouser (REJECT Unknown user)
//   quota_status_overquota (554 5.2.2 <quota error>)   quota_status_toolarge (= overquota)
// Outside RCPT (e.g. END-OF-MESSAGE) or without a recipient the answer is DUNNO.
import type net from 'node:net';
import type { Settings } from '../config/index.js';
import type { ListenAddress } from '../listeners/group.js';
import { openReloadableListeners, type ListenerGeneration } from '../listeners/reloadable.js';
import { inetListenAddresses, type InetAddress } from '../listeners/inet.js';
import { resolveUnixListener, type UnixListenerSpec } from '../listeners/unix.js';
import { Logger } from '../log/logger.js';
import type { ServerContext } from '../mail-user/context.js';
import { recipientQuotaVerdict } from '../mail-user/delivery.js';
import { newSessionId } from '../mail-user/session-id.js';
import { parseRecipient } from '../mail-user/recipient-address.js';
import { actionReply, PolicyRequestReader, type PolicyRequest } from './policy.js';

/** The quota error text Dovecot puts after `554 5.2.2` (quota_alloc_result_errstr). */
export const QUOTA_EXCEEDED_TEXT = 'Quota exceeded (mailbox for user is full)';

export interface QuotaStatusOptions {
  inet?: InetAddress[];
  unix?: UnixListenerSpec[];
  /** Default: quota_status_max_line_length. */
  maxLineLength?: number;
}

export interface QuotaStatusServer {
  readonly addresses: ListenAddress[];
  /** Open connections that use this context (a reload retires the old one when none do). */
  connectionsUsing(ctx: ServerContext): number;
  /** New connections answer from the new context (quota rules, userdb); rebinds moved listeners. */
  reload(ctx: ServerContext): Promise<void>;
  close(): Promise<void>;
}

export function quotaStatusConfigured(settings: Settings): boolean {
  const svc = settings.service['quota-status'];
  return !!svc && (svc.unix_listener.length > 0 || inetListenAddresses(svc, settings.listen).length > 0);
}

/** `executable = quota-status -p postfix` (the only protocol Dovecot has); '' means the same. */
export function checkQuotaStatusExecutable(executable: string): void {
  if (executable === '') return;
  const words = executable.trim().split(/\s+/);
  const p = words.indexOf('-p');
  if (!words[0]!.endsWith('quota-status')) throw new Error(`service quota-status: executable = ${executable}: Roost runs only quota-status -p postfix here`);
  if (p < 0) throw new Error('service quota-status: Missing -p parameter (executable = quota-status -p postfix)');
  if (words[p + 1] !== 'postfix') throw new Error(`service quota-status: Unknown -p parameter: '${words[p + 1] ?? ''}'`);
}

/** One request → the action text (without `action=`). */
async function answer(ctx: ServerContext, request: PolicyRequest, remoteIp: string, log: Logger): Promise<string> {
  const plugin = ctx.settings.plugin;
  if (request.protocolState !== '' && request.protocolState !== 'RCPT') {
    log.warning(`Received policy query from MTA in unexpected state ${request.protocolState} (service can only be used for recipient restrictions)`);
    return 'DUNNO';
  }
  if (request.recipient === '') return 'DUNNO';
  const { username } = parseRecipient(request.recipient, ctx.settings.recipient_delimiter);
  const found = await ctx.auth.lookupUser(username, 'quota-status', { remoteIp });
  if (!found.found) {
    if (found.reason === 'tempfail') {
      log.error(`Failed to lookup user ${username}: userdb lookup failed`);
      return 'DEFER_IF_PERMIT Temporary internal error';
    }
    return plugin.quota_status_nouser ?? 'REJECT Unknown user';
  }
  // Per-user values come from the userdb (mail_user_plugin_getenv), then plugin { }.
  const setting = (name: string) => found.fields[name] ?? plugin[name];
  const verdict = await recipientQuotaVerdict(
    ctx,
    { username: found.user, userdbFields: found.fields, service: 'quota-status', sessionId: newSessionId(), remoteIp },
    request.size,
  );
  if (typeof verdict !== 'string') return `DEFER_IF_PERMIT ${verdict.text}`;
  if (verdict === 'ok') return setting('quota_status_success') ?? 'OK';
  const toolarge = verdict === 'toolarge' ? setting('quota_status_toolarge') : undefined;
  return toolarge ?? setting('quota_status_overquota') ?? `554 5.2.2 ${QUOTA_EXCEEDED_TEXT}`;
}

function serveConnection(ctx: ServerContext, socket: net.Socket, maxLineLength: number, log: Logger): void {
  const reader = new PolicyRequestReader();
  const remoteIp = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
  let buffer = '';
  // Requests on one connection are answered in order, one at a time.
  let queue: Promise<void> = Promise.resolve();
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  const tooLong = () => {
    log.error(`Client sent a line longer than ${maxLineLength} bytes`);
    socket.destroy();
  };
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const nl = buffer.indexOf('\n');
      if (nl < 0) break;
      let line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > maxLineLength) return tooLong();
      const request = reader.line(line);
      if (!request) continue;
      if ('error' in request) {
        log.error(request.error);
        socket.destroy();
        return;
      }
      queue = queue.then(async () => {
        let action: string;
        try {
          action = await answer(ctx, request, remoteIp, log);
        } catch (err) {
          log.error(`Failed to check quota of ${request.recipient}: ${(err as Error).message}`);
          action = 'DEFER_IF_PERMIT Temporary internal error';
        }
        if (!socket.destroyed) socket.write(actionReply(action));
      });
    }
    if (buffer.length > maxLineLength) tooLong();
  });
}

/** One configuration's listeners and request handler for quota-status. */
function generationFor(ctx: ServerContext, opts: QuotaStatusOptions): ListenerGeneration<ServerContext> {
  const settings = ctx.settings;
  const svc = settings.service['quota-status'];
  checkQuotaStatusExecutable(svc?.executable ?? '');
  const log = new Logger('quota-status: ');
  const clientLimit = svc?.client_limit ?? 1000;
  const maxLineLength = opts.maxLineLength ?? settings.quota_status_max_line_length;
  return {
    owner: ctx,
    inet: opts.inet ?? inetListenAddresses(svc, settings.listen),
    unix: opts.unix ?? (svc?.unix_listener ?? []).map((l) => resolveUnixListener(l, settings.base_dir)),
    clientLimit,
    onLimit: () => log.warning(`client_limit (${clientLimit}) reached, connection refused`),
    accept: (socket) => serveConnection(ctx, socket, maxLineLength, log),
  };
}

export async function startQuotaStatusServer(ctx: ServerContext, opts: QuotaStatusOptions = {}): Promise<QuotaStatusServer> {
  const listeners = await openReloadableListeners('service(quota-status)', generationFor(ctx, opts));
  return {
    get addresses() {
      return listeners.addresses;
    },
    connectionsUsing: (context) => listeners.connectionsUsing(context),
    reload: (context) => listeners.reload(generationFor(context, opts)),
    close: () => listeners.close(),
  };
}
