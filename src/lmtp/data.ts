// DATA: receive the message once, then store one copy per accepted recipient and answer each
// (RFC 2033 §4.2: one reply per successful RCPT, in RCPT order). The copies are delivered
// concurrently: each is a synchronous commit into its user's own database followed by an fsync in
// the libuv threadpool, so the fsyncs of one message overlap; the replies are collected in RCPT
// order and smtp-server sends them only when all are known. A 250 goes out only after that copy is
// durable; a message that did not arrive whole is never stored.
import { countDelivery } from '../metrics/metrics.js';
import type { Readable } from 'node:stream';
import type { Settings } from '../config/index.js';
import type { ServerContext } from '../mail-user/context.js';
import { deliver, prepareMessage, TEMP_FAILURE, traceHeaders, type DeliveryFailure, type DeliveryRequest, type PreparedMessage } from '../mail-user/delivery.js';
import { errorText } from '../mail-user/mail-user.js';
import { rootLogger } from '../log/logger.js';
import { spoolMessage } from './message-spool.js';
import type { ResolvedRecipient } from './recipients.js';
import { messageTooBig, recipientFailure, savedReply, type SmtpReplyError } from './replies.js';

export interface Transaction {
  transactionId: string;
  /** Envelope sender, '' for `<>`. */
  envelopeFrom: string;
  heloName: string;
  localIp: string;
  remoteIp: string;
  /** The connection as Dovecot's lmtp-server names it in log lines (`<ip>:<port> [<n>]`). */
  peer?: string;
  /** The recipients to deliver to: accepted RCPTs without the duplicates (recipients.ts). */
  recipients: ResolvedRecipient[];
  /** Accepted RCPT commands, duplicates included (Dovecot counts them for Delivered-To). */
  acceptedRcpts: number;
}

export interface DataOptions {
  ctx: ServerContext;
  settings: Settings;
  spoolDir: string;
  /** Messages above this size are spooled to a file. */
  memoryLimit: number;
}

/** lmtp_hdr_delivery_address: which address Delivered-To and Received `for` name (single recipient only). */
function deliveryAddress(settings: Settings, t: Transaction): string | null {
  if (t.acceptedRcpts !== 1) return null;
  const r = t.recipients[0]!;
  switch (settings.lmtp_hdr_delivery_address) {
    case 'none':
      return null;
    case 'original':
      return r.orcpt ?? r.address;
    default:
      return r.address;
  }
}

export type RecipientReply = string | SmtpReplyError;

export async function receiveAndDeliver(opts: DataOptions, stream: Readable, t: Transaction): Promise<RecipientReply[]> {
  const { settings } = opts;
  const prefix = traceHeaders({
    envelopeFrom: t.envelopeFrom,
    deliveryAddress: deliveryAddress(settings, t),
    received: settings.lmtp_add_received_header
      ? { heloName: t.heloName, remoteIp: t.remoteIp, transactionId: t.transactionId, hostname: settings.hostname }
      : undefined,
  });
  // Throws when the client goes away before the final dot: nothing is stored then.
  const spooled = await spoolMessage(stream, {
    prefix,
    maxBytes: settings.mail_max_message_size,
    memoryLimit: opts.memoryLimit,
    spoolDir: opts.spoolDir,
  });
  try {
    if (spooled.tooBig) {
      countDelivery(messageTooBig().responseCode ?? 552, 0, t.recipients.length);
      return t.recipients.map(() => messageTooBig());
    }
    let message: PreparedMessage;
    try {
      message = prepareMessage(spooled.content);
    } catch (err) {
      rootLogger.error(`lmtp: Failed to read the message: ${errorText(err)}`);
      countDelivery(TEMP_FAILURE.code, 0, t.recipients.length);
      return t.recipients.map((r) => recipientFailure(r.address, TEMP_FAILURE));
    }
    // One recipient after the other in RCPT order, each user session ending right after its copy
    // except the first one's, which ends after the last (Dovecot 2.3.19's lmtp-local.c order, so
    // the mail_lua hooks run in the same order on both). deliver() reports failures as values;
    // anything else becomes a 451 here, so the spool is disposed only after the last copy.
    // Each copy is committed in turn; their fsyncs run side by side and every reply waits for its own.
    const synced: (Promise<DeliveryFailure | null> | null)[] = [];
    const deliverTo = async (r: Transaction['recipients'][number], holdUser?: DeliveryRequest['holdUser']): Promise<RecipientReply> => {
      let sync: Promise<DeliveryFailure | null> | null = null;
      try {
        const result = await deliver(opts.ctx, {
          username: r.user,
          userdbFields: r.userdbFields,
          service: 'lmtp',
          sessionId: r.id,
          localIp: t.localIp,
          remoteIp: t.remoteIp,
          detail: r.detail || undefined,
          message,
          holdUser,
          durableLater: (p) => (sync = p),
          lmtp: t.peer === undefined ? undefined : { peer: t.peer, rcpt: r.address },
        });
        return result.ok ? savedReply(r.address, r.id) : recipientFailure(r.address, result.failure);
      } catch (err) {
        rootLogger.error(`lmtp: delivery to ${r.address} failed: ${errorText(err)}`);
        return recipientFailure(r.address, TEMP_FAILURE);
      } finally {
        synced.push(sync);
      }
    };
    let endFirst: (() => Promise<void>) | undefined;
    const replies: RecipientReply[] = [];
    for (const r of t.recipients) {
      const hold = replies.length === 0 && t.recipients.length > 1 ? (end: () => Promise<void>) => void (endFirst = end) : undefined;
      replies.push(await deliverTo(r, hold));
    }
    if (endFirst) await endFirst();
    const failures = await Promise.all(synced);
    return replies.map((reply, i) => {
      const failure = failures[i];
      const final = failure ? recipientFailure(t.recipients[i]!.address, failure) : reply;
      countDelivery(typeof final === 'string' ? 250 : (final.responseCode ?? 451), spooled.size);
      return final;
    });
  } finally {
    await spooled.dispose();
  }
}
