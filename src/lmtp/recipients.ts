// RCPT TO: resolve the recipient through the userdb now, so the client learns at once which
// recipients are refused (Dovecot's lmtp_local_rcpt: 550 5.1.1 unknown, 451 4.3.0 tempfail,
// quota checked here only with lmtp_rcpt_check_quota = yes).
import type { Settings } from '../config/index.js';
import type { ServerContext } from '../mail-user/context.js';
import { checkRecipientQuota, TEMP_FAILURE } from '../mail-user/delivery.js';
import { parseRecipient, type RecipientAddress } from '../mail-user/recipient-address.js';
import { recipientFailure, userUnknown, type SmtpReplyError } from './replies.js';

export interface ResolvedRecipient extends RecipientAddress {
  /** The username the userdb returned (it may normalise the one asked for). */
  user: string;
  userdbFields: Record<string, string>;
  /** RFC 3461 ORCPT address, when given (for lmtp_hdr_delivery_address = original). */
  orcpt: string | null;
  /** Recipient id: the transaction id for the first RCPT, `<tid>:R<n>` after (Dovecot's form). */
  id: string;
}

export interface RcptContext {
  ctx: ServerContext;
  settings: Settings;
  localIp: string;
  remoteIp: string;
}

/** `rfc822;user@example.com` → `user@example.com` (xtext `+XX` decoded, RFC 3461 §4). */
export function orcptAddress(orcpt: string | undefined): string | null {
  if (!orcpt) return null;
  const semi = orcpt.indexOf(';');
  if (semi < 0 || orcpt.slice(0, semi).toLowerCase() !== 'rfc822') return null;
  return orcpt.slice(semi + 1).replace(/\+([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export async function resolveRecipient(
  rc: RcptContext,
  address: string,
  orcpt: string | undefined,
  id: string,
): Promise<ResolvedRecipient | SmtpReplyError> {
  const parsed = parseRecipient(address, rc.settings.recipient_delimiter);
  const found = await rc.ctx.auth.lookupUser(parsed.username, 'lmtp', { localIp: rc.localIp, remoteIp: rc.remoteIp });
  if (!found.found) {
    return found.reason === 'tempfail' ? recipientFailure(address, TEMP_FAILURE) : userUnknown(address, parsed.username);
  }
  // A store being restored (`roost restore`): 451 now, so the MTA retries after the restore.
  if (rc.ctx.userLocks?.isLocked(found.user)) return recipientFailure(address, TEMP_FAILURE);
  const rcpt: ResolvedRecipient = { ...parsed, user: found.user, userdbFields: found.fields, orcpt: orcptAddress(orcpt), id };
  if (rc.settings.lmtp_rcpt_check_quota) {
    const failure = await checkRecipientQuota(rc.ctx, {
      username: rcpt.user,
      userdbFields: rcpt.userdbFields,
      service: 'lmtp',
      sessionId: id,
      localIp: rc.localIp,
      remoteIp: rc.remoteIp,
    });
    if (failure) return recipientFailure(address, failure);
  }
  return rcpt;
}

/**
 * The accepted RCPTs of one transaction, in order. A repeated recipient is accepted again but
 * delivered once, and after DATA it gets the same reply as the first, so that there is still one
 * reply per accepted RCPT (RFC 2033 §4.2). Dovecot 2.3.19's lmtp does this
 * (lmtp-local.c, lmtp_local_rcpt_find_duplicate; checked on a private dovecot-lmtpd): the address
 * is compared with the local part case-sensitive and the domain case-insensitive, so
 * `<alice@EXAMPLE.COM>` repeats `<alice@example.com>` but `<ALICE@example.com>` is a recipient of
 * its own (a second copy, even when the userdb maps both to one user).
 */
export class AcceptedRecipients {
  /** Each accepted RCPT: its recipient, or the index of the earlier RCPT it repeats. */
  private readonly entries: ({ rcpt: ResolvedRecipient } | { repeats: number })[] = [];
  private readonly byKey = new Map<string, number>();

  /** True when `address` repeats an accepted recipient: it is then accepted as a duplicate. */
  acceptDuplicate(address: string): boolean {
    const first = this.byKey.get(duplicateKey(address));
    if (first === undefined) return false;
    this.entries.push({ repeats: first });
    return true;
  }

  add(address: string, rcpt: ResolvedRecipient): void {
    this.byKey.set(duplicateKey(address), this.entries.length);
    this.entries.push({ rcpt });
  }

  /** Accepted RCPT commands, duplicates included. */
  get count(): number {
    return this.entries.length;
  }

  /** The recipients to deliver to, once each, in RCPT order. */
  distinct(): ResolvedRecipient[] {
    const out: ResolvedRecipient[] = [];
    for (const e of this.entries) if ('rcpt' in e) out.push(e.rcpt);
    return out;
  }

  /** One reply per accepted RCPT from the replies of distinct(), in the same order. */
  spread<T>(replies: readonly T[]): T[] {
    const byEntry: T[] = [];
    let next = 0;
    for (const e of this.entries) byEntry.push('rcpt' in e ? replies[next++]! : byEntry[e.repeats]!);
    return byEntry;
  }

  clear(): void {
    this.entries.length = 0;
    this.byKey.clear();
  }
}

/** lib-smtp's smtp_address_equals(): local part as written, domain without case. */
function duplicateKey(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}
