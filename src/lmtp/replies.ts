// LMTP reply texts (Dovecot 2.3.19's, checked on a private dovecot-lmtpd) and the one adaptation
// smtp-server needs to send them: the library picks the enhanced status code itself from the
// basic code (552 → 5.2.2, DATA OK → 2.6.0), so a reply that must carry another one (5.2.3 for a
// too large message, Dovecot's 2.0.0 for "Saved") could not be sent. Replies built here start
// with their own enhanced code, and the patched `send` then leaves the library's out.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { DeliveryFailure } from '../mail-user/delivery.js';

/** An error smtp-server renders as `<responseCode> <message>`. */
export interface SmtpReplyError extends Error {
  responseCode: number;
}

const OWN_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
const LMTP_HELO_REFUSED = /^Error: (?:HELO|EHLO) not allowed in LMTP server$/;
/** lib-smtp's reply to a command LMTP does not have (smtp-server-command.c). */
const UNKNOWN_COMMAND = '5.5.1 Unknown command';

type Send = (this: unknown, code: number, data: unknown, context?: unknown) => void;
interface PatchableConnection {
  send: Send & { roostOwnCodes?: true };
}

/** Installs the enhanced-code passthrough once per process (idempotent). */
export function installOwnEnhancedCodes(): void {
  const proto = (SMTPConnection as unknown as { prototype: PatchableConnection }).prototype;
  if (proto.send.roostOwnCodes) return;
  const original = proto.send;
  const patched: PatchableConnection['send'] = function (this: unknown, code, data, context) {
    // `false` is smtp-server's own "no enhanced code" context.
    if (typeof data === 'string' && OWN_CODE.test(data)) return original.call(this, code, data, false);
    // HELO/EHLO on LMTP: smtp-server answers `500 Error: HELO not allowed in LMTP server` without
    // an enhanced code although ENHANCEDSTATUSCODES is announced (RFC 2034 §3); Dovecot's answer.
    if (typeof data === 'string' && LMTP_HELO_REFUSED.test(data)) return original.call(this, 500, UNKNOWN_COMMAND, false);
    return original.call(this, code, data, context);
  };
  patched.roostOwnCodes = true;
  proto.send = patched;
}

export function replyError(code: number, enhanced: string, text: string): SmtpReplyError {
  const err = new Error(`${enhanced} ${text}`) as SmtpReplyError;
  err.responseCode = code;
  return err;
}

/** `550 5.1.1 <rcpt> User doesn't exist: user` (lmtp-local.c). */
export function userUnknown(rcpt: string, username: string): SmtpReplyError {
  return replyError(550, '5.1.1', `<${rcpt}> User doesn't exist: ${username}`);
}

/** A delivery failure for one recipient: `<code> <enhanced> <rcpt> <text>`. */
export function recipientFailure(rcpt: string, f: DeliveryFailure): SmtpReplyError {
  return replyError(f.code, f.enhanced, `<${rcpt}> ${f.text}`);
}

/** `250 2.0.0 <rcpt> <recipient id> Saved` (lmtp-local.c). */
export function savedReply(rcpt: string, recipientId: string): string {
  return `2.0.0 <${rcpt}> ${recipientId} Saved`;
}

/** lib-smtp's reply when the message exceeds the size limit (smtp-server-cmd-data.c). */
export function messageTooBig(): SmtpReplyError {
  return replyError(552, '5.2.3', 'Message size exceeds administrative limit');
}
