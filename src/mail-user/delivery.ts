// The delivery service shared by LMTP and `roost deliver` (Dovecot's lib-lda / mail-deliver.c):
// one copy of a message into one user's mailbox, with the trace headers Dovecot adds, durable
// before it returns (store.durably(): the WAL fsync runs in the libuv threadpool, so the event loop
// stays free and several copies sync in parallel). Failures are values with an
// SMTP meaning (class + enhanced code) that the protocol layer renders per recipient.
import { closeSync, openSync, readSync } from 'node:fs';
import { Logger } from '../log/logger.js';
import { imapMessageSize, parseMessage } from '../mime/parser.js';
import type { MessageSource, MimePart } from '../mime/types.js';
import { INBOX, isStagedBody as isStaged, StorageError, type AppendInput, type AppendResult, type SharedBody, type UserStore } from '../storage/index.js';
import type { QuotaLimits, QuotaUsage } from '../storage/types.js';
import type { ServerContext } from './context.js';
import { MailUserInitError } from './hooks.js';
import { errorText, type AnyMailUser as MailUser, type ServiceName } from './mail-user.js';
import { quotaLimitsFromRule } from './quota-rule.js';

/** Message bytes: in memory, or spooled to a file (large messages). */
export type DeliveryContent = Buffer | { path: string; size: number };

/** A message ready to store: trace headers already prepended, MIME structure computed once. */
export interface PreparedMessage {
  content: DeliveryContent;
  mimeStructure: MimePart;
  /**
   * Set by the first copy stored: its staged body as soon as the bytes are written (undefined when
   * the body is not staged, being small, or could not be written). The other recipients share it
   * instead of storing the bytes again (Dovecot's LMTP does the same with the first saved mail),
   * and wait for it to be durable besides their own copy.
   */
  bodyFile?: Promise<SharedBody | undefined>;
}

/** The SMTP-ish meaning of a failed delivery, rendered by LMTP as `<code> <enhanced> <rcpt> <text>`. */
export interface DeliveryFailure {
  temporary: boolean;
  /** Basic reply code, e.g. 552. */
  code: number;
  /** RFC 3463 enhanced status code, e.g. `5.2.2`. */
  enhanced: string;
  /** Text after the recipient, e.g. `Quota exceeded (mailbox for user is full)`. */
  text: string;
}

export type DeliveryResult = { ok: true; mailbox: string; uid: number } | { ok: false; failure: DeliveryFailure };

/** What the Received header says about the LMTP session (absent for `roost deliver`). */
export interface ReceivedInfo {
  /** The LHLO argument. */
  heloName: string;
  remoteIp: string;
  /** Transaction id (Dovecot: the session id, `<session>:T<n>` for later transactions). */
  transactionId: string;
  /** Server name (Dovecot's `hostname`). */
  hostname: string;
}

export interface TraceHeaderInput {
  /** Envelope sender, '' for the null sender `<>`. */
  envelopeFrom: string;
  /** Recipient for `Delivered-To:` and the Received `for` clause; null when the transaction has several. */
  deliveryAddress: string | null;
  received?: ReceivedInfo;
  date?: Date;
}

export interface DeliveryRequest {
  /** Username as the userdb returned it. */
  username: string;
  userdbFields?: Record<string, string>;
  service: ServiceName;
  /** The mail_user session id (LMTP: the recipient id). */
  sessionId?: string;
  localIp?: string;
  remoteIp?: string;
  /** Target mailbox (`roost deliver -m`); default INBOX. */
  mailbox?: string;
  /** The address detail (`user+detail@domain`), used when lmtp_save_to_detail_mailbox = yes. */
  detail?: string;
  message: PreparedMessage;
  /**
   * Takes over ending the user session (its deinit hooks) instead of deliver() ending it at once:
   * LMTP ends its first recipient's session last, as Dovecot does (lmtp-local.c keeps the first
   * saved mail as the source of the other copies).
   */
  holdUser?: (end: () => Promise<void>) => void;
  /**
   * Takes the wait for durability off deliver(): it returns once the copy is committed, and the
   * caller must not acknowledge it before the promise resolved (null; a failure if the sync
   * failed). LMTP uses it to deliver recipients one after the other, as Dovecot, while their
   * fsyncs run side by side.
   */
  durableLater?: (synced: Promise<DeliveryFailure | null>) => void;
  /** LMTP: the connection and the RCPT address, for Dovecot's lmtp-server log lines. */
  lmtp?: { peer: string; rcpt: string };
}

// Dovecot's reply texts (src/lmtp/lmtp-local.c, lib-lda/mail-deliver.c).
export const TEMP_FAILURE: DeliveryFailure = { temporary: true, code: 451, enhanced: '4.3.0', text: 'Temporary internal error' };
const QUOTA_TEXT = 'Quota exceeded (mailbox for user is full)';

/** Over quota: permanent 552 5.2.2 unless quota_full_tempfail = yes (452 4.2.2). */
export function quotaFailure(tempfail: boolean): DeliveryFailure {
  return tempfail
    ? { temporary: true, code: 452, enhanced: '4.2.2', text: QUOTA_TEXT }
    : { temporary: false, code: 552, enhanced: '5.2.2', text: QUOTA_TEXT };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in local time, as Dovecot's message_date_create writes it. */
export function rfc2822Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${DAYS[d.getDay()]}, ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`;
}

/**
 * The headers Dovecot's LMTP prepends, in its order: `Return-Path`, `Delivered-To` (single
 * recipient only), `Received` (lmtp_add_received_header). Checked against Dovecot 2.3.19:
 *   Received: from <lhlo> ([ip])\r\n\tby <host> with LMTP\r\n\tid <tid>\r\n\t(envelope-from <s>)\r\n\tfor <rcpt>; <date>
 */
export function traceHeaders(input: TraceHeaderInput): Buffer {
  let h = `Return-Path: <${input.envelopeFrom}>\r\n`;
  if (input.deliveryAddress !== null) h += `Delivered-To: ${input.deliveryAddress}\r\n`;
  const r = input.received;
  if (r) {
    const ip = r.remoteIp ? ` ([${r.remoteIp}])` : '';
    h += `Received: from ${r.heloName}${ip}\r\n\tby ${r.hostname} with LMTP\r\n\tid ${r.transactionId}\r\n\t(envelope-from <${input.envelopeFrom}>)`;
    if (input.deliveryAddress !== null) h += `\r\n\tfor <${input.deliveryAddress}>`;
    h += `; ${rfc2822Date(input.date ?? new Date())}\r\n`;
  }
  return Buffer.from(h, 'utf8');
}

/** Reads a spooled file for the MIME parser without loading it whole. */
function fileSource(path: string, size: number, fd: number): MessageSource {
  return {
    size,
    read(offset, length) {
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, offset + got);
        if (n === 0) throw new Error(`Spooled message ${path} ended early`);
        got += n;
      }
      return buf;
    },
  };
}

/** Computes the MIME structure once; every copy of the same bytes reuses it. */
export function prepareMessage(content: DeliveryContent): PreparedMessage {
  if (Buffer.isBuffer(content)) return { content, mimeStructure: parseMessage(content) };
  const fd = openSync(content.path, 'r');
  try {
    return { content, mimeStructure: parseMessage(fileSource(content.path, content.size, fd)) };
  } finally {
    closeSync(fd);
  }
}

/** A boolean setting, overridable by a userdb field (`yes`/`no` there, `true`/`false` in globals). */
function flag(user: MailUser, name: string): boolean {
  const v = user.setting(name);
  return v === 'true' || v === 'yes';
}

function messageIdForLog(m: PreparedMessage): string {
  const id = m.mimeStructure.envelope?.messageId?.trim();
  return id ? id.replace(/[\r\n\t]+/g, ' ') : 'unspecified';
}

/**
 * The target mailbox (mail-deliver.c): the requested one (or the detail mailbox), created when
 * lda_mailbox_autocreate = yes, else INBOX when it does not exist.
 */
async function targetMailbox(user: MailUser, store: UserStore, req: DeliveryRequest): Promise<string> {
  let wanted = req.mailbox;
  if (wanted === undefined && req.detail && flag(user, 'lmtp_save_to_detail_mailbox')) wanted = req.detail;
  if (!wanted || wanted.toUpperCase() === INBOX) return INBOX;
  const existing = await store.getMailbox(wanted);
  if (existing && !existing.noselect) return existing.name;
  if (!flag(user, 'lda_mailbox_autocreate')) {
    // dovecot-lda 2.3.19 logs exactly this, then `saved mail to INBOX`.
    user.log.info(`msgid=${messageIdForLog(req.message)}: save failed to open mailbox ${wanted}: Mailbox doesn't exist: ${wanted}`);
    return INBOX;
  }
  try {
    const created = await store.createMailbox(wanted);
    if (flag(user, 'lda_mailbox_autosubscribe')) await store.setSubscribed(created.name, true);
    return created.name;
  } catch (err) {
    if (err instanceof StorageError && err.code === 'ALREADYEXISTS') return wanted; // created meanwhile
    user.log.info(`msgid=${messageIdForLog(req.message)}: save failed to create mailbox ${wanted}: ${errorText(err)}`);
    return INBOX;
  }
}

function failureFor(user: MailUser, err: unknown): DeliveryFailure {
  if (err instanceof StorageError && err.code === 'OVERQUOTA') {
    return quotaFailure(flag(user, 'quota_full_tempfail'));
  }
  user.log.error(`msgid=unspecified: save failed: ${errorText(err)}`);
  return TEMP_FAILURE;
}

async function createMailUser(ctx: ServerContext, req: Omit<DeliveryRequest, 'message'>): Promise<MailUser | DeliveryFailure> {
  try {
    return await ctx.mailUsers.createUser({
      username: req.username,
      service: req.service,
      userdbFields: req.userdbFields,
      sessionId: req.sessionId,
      localIp: req.localIp,
      remoteIp: req.remoteIp,
    });
  } catch (err) {
    const text = `Failed to initialize user: ${err instanceof MailUserInitError ? err.message : errorText(err)}`;
    if (req.lmtp) {
      // Dovecot 2.3.19 (lmtp-local.c, checked on the real one): the process prefix and the
      // lmtp-server connection, e.g. `lmtp(4242): Error: lmtp-server: conn 127.0.0.1:56528 [2]:
      // rcpt bob: Failed to initialize user: ...`.
      new Logger(`lmtp(${process.pid}): `).error(`lmtp-server: conn ${req.lmtp.peer}: rcpt ${req.lmtp.rcpt}: ${text}`);
    } else {
      new Logger(`${req.service}(${req.username})<${process.pid}>${req.sessionId ? `<${req.sessionId}>` : ''}: `).error(text);
    }
    return TEMP_FAILURE;
  }
}

/**
 * A large body is staged durably before the commit that refers to it (off the event loop): by the
 * first recipient; the others share it (SQLite: hard-link the body file into their own homes) as
 * soon as its bytes are written.
 */
async function stageContent(store: UserStore, message: PreparedMessage): Promise<AppendInput['content']> {
  const first = message.bodyFile;
  if (first) {
    const linkFrom = await first;
    return store.stageBody(message.content, linkFrom ? { linkFrom } : undefined);
  }
  let announce!: (file: SharedBody | undefined) => void;
  message.bodyFile = new Promise((resolve) => (announce = resolve));
  try {
    return await store.stageBody(message.content, { onWritten: announce });
  } finally {
    announce(undefined); // no-op once announced; otherwise the others store their own copies
  }
}

/** Stores one copy for one user; returns only once the copy is durable (or has failed). */
export async function deliver(ctx: ServerContext, req: DeliveryRequest): Promise<DeliveryResult> {
  // A store being restored takes no mail: a temporary failure, so the MTA retries later.
  const leave = ctx.userLocks?.enter(req.username);
  if (leave === null) {
    new Logger(`${req.service}(${req.username})<${process.pid}>${req.sessionId ? `<${req.sessionId}>` : ''}: `).info('Delivery deferred: the mail store is being restored (temporary failure)');
    return { ok: false, failure: TEMP_FAILURE };
  }
  try {
    return await deliverUnlocked(ctx, req);
  } finally {
    leave?.();
  }
}

async function deliverUnlocked(ctx: ServerContext, req: DeliveryRequest): Promise<DeliveryResult> {
  const user = await createMailUser(ctx, req);
  if (!('username' in user)) return { ok: false, failure: user };
  try {
    let mailbox = INBOX;
    let content: AppendInput['content'] | undefined;
    let saved = false;
    try {
      const store: UserStore = await user.openStore();
      content = await stageContent(store, req.message);
      const input = { content, mimeStructure: req.message.mimeStructure, virtualSize: imapMessageSize(req.message.mimeStructure), origin: 'delivery' as const };
      // Resolves once the copy (and an autocreated mailbox) is durable: only then may LMTP say 250.
      let committed: AppendResult | undefined;
      let announceCommit!: () => void;
      const commit = new Promise<void>((resolve) => (announceCommit = resolve));
      const durable = store.durably(async (s) => {
        mailbox = await targetMailbox(user, s, req);
        try {
          committed = await s.append(mailbox, input);
        } catch (err) {
          // The mailbox vanished between the check and the save: Dovecot falls back to INBOX.
          if (!(err instanceof StorageError && err.code === 'NONEXISTENT') || mailbox === INBOX) throw err;
          mailbox = INBOX;
          committed = await s.append(mailbox, input);
        }
        announceCommit();
        return committed;
      });
      // Committed, or failed; durable or not yet.
      await Promise.race([commit, durable.then(() => {}, () => {})]);
      if (committed && req.durableLater) {
        // Committed; the caller waits for the sync before it replies.
        const failed = durable.then(
          () => null,
          (err: unknown) => failureFor(user, err),
        );
        req.durableLater(failed);
        saved = true;
        user.log.info(`msgid=${messageIdForLog(req.message)}: saved mail to ${mailbox}`);
        return { ok: true, mailbox, uid: committed.uid };
      }
      const result = await durable;
      saved = true;
      user.log.info(`msgid=${messageIdForLog(req.message)}: saved mail to ${mailbox}`);
      return { ok: true, mailbox, uid: result.uid };
    } catch (err) {
      if (err instanceof StorageError && err.code === 'OVERQUOTA') {
        user.log.info(`msgid=${messageIdForLog(req.message)}: save failed to ${mailbox}: ${QUOTA_TEXT}`);
      }
      return { ok: false, failure: failureFor(user, err) };
    } finally {
      // A staged body no committed message refers to (discard() leaves a committed one alone).
      if (!saved && content && isStaged(content)) await content.discard();
    }
  } finally {
    if (req.holdUser) req.holdUser(() => ctx.mailUsers.destroyUser(user));
    else await ctx.mailUsers.destroyUser(user);
  }
}

/** Whether a message of `size` bytes fits: `toolarge` when it exceeds the limit by itself. */
export type QuotaVerdict = 'ok' | 'over' | 'toolarge';

/**
 * The store's own arithmetic (addUsage refuses a save when usage + size passes a limit), so the
 * answer before a delivery is the one the delivery will get. Dovecot's quota_test_alloc adds
 * quota_grace on top; Roost's store has no grace, so neither has this.
 */
export function quotaVerdict(limits: QuotaLimits, usage: QuotaUsage, size: number): QuotaVerdict {
  if (limits.storageBytes && size > limits.storageBytes) return 'toolarge';
  if (limits.messages && usage.messages + 1 > limits.messages) return 'over';
  if (limits.storageBytes && usage.storageBytes + size > limits.storageBytes) return 'over';
  return 'ok';
}

/** The verdict for `size` bytes, and the user's quota_full_tempfail; or a temporary failure. */
async function quotaCheck(
  ctx: ServerContext,
  req: Omit<DeliveryRequest, 'message' | 'mailbox' | 'detail'>,
  size: number,
): Promise<{ verdict: QuotaVerdict; tempfail: boolean } | DeliveryFailure> {
  const limits = quotaLimitsFromRule(req.userdbFields?.quota_rule ?? ctx.settings.plugin.quota_rule);
  if (!limits || (!limits.storageBytes && !limits.messages)) return { verdict: 'ok', tempfail: false };
  const user = await createMailUser(ctx, req);
  if (!('username' in user)) return user;
  try {
    const store: UserStore = await user.openStore();
    return { verdict: quotaVerdict(limits, await store.quotaUsage(), size), tempfail: flag(user, 'quota_full_tempfail') };
  } catch (err) {
    return failureFor(user, err);
  } finally {
    await ctx.mailUsers.destroyUser(user);
  }
}

/**
 * Would a message of `size` bytes fit in the user's quota now (Postfix's quota-status policy
 * check)? The user's quota_rule (userdb, then plugin setting) against the store's current usage.
 */
export async function recipientQuotaVerdict(
  ctx: ServerContext,
  req: Omit<DeliveryRequest, 'message' | 'mailbox' | 'detail'>,
  size: number,
): Promise<QuotaVerdict | DeliveryFailure> {
  const r = await quotaCheck(ctx, req, size);
  return 'verdict' in r ? r.verdict : r;
}

/**
 * lmtp_rcpt_check_quota: is the user already over quota at RCPT time? Like Dovecot's test with a
 * zero-size message: over when one more message would exceed the message limit, or when storage
 * is already above its limit. Returns a failure or null.
 */
export async function checkRecipientQuota(
  ctx: ServerContext,
  req: Omit<DeliveryRequest, 'message' | 'mailbox' | 'detail'>,
): Promise<DeliveryFailure | null> {
  const r = await quotaCheck(ctx, req, 0);
  if (!('verdict' in r)) return r;
  return r.verdict === 'ok' ? null : quotaFailure(r.tempfail);
}
