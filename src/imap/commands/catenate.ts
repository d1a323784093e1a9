// CATENATE (RFC 4469): an APPENDed message built from TEXT literals and IMAP URLs (RFC 5092) that
// name the user's own messages, whole or a section, optionally a ;PARTIAL range (RFC 5550
// URL-PARTIAL). As in Dovecot 2.3.19 (with URLAUTH on or off), only relative URLs
// (`/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`) are accepted; a URL that cannot
// be resolved fails the whole APPEND with `NO [BADURL url]` (texts from Dovecot's imap-msgpart-url.c).
import { applyPartial, parseSectionSpec, readSection } from '../../mime/section.js';
import type { CatenatePart } from '../protocol/index.js';
import type { CommandContext } from './context.js';
import { syncBody } from '../../storage/maybe-async.js';
import { loadMimeStructure } from './fetch-mime.js';

export class BadUrlError extends Error {
  constructor(readonly url: string, message: string) {
    super(message);
  }
}

export class CatenateTooBigError extends Error {}

export interface MessageUrl {
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  section: string | null;
  partial: { offset: number; length?: number } | null;
}

const URL_SHAPE = /^\/([^;/]+(?:\/[^;/]+)*)(?:;UIDVALIDITY=([1-9]\d*))?\/;UID=([1-9]\d*)(?:\/;SECTION=([^/;]+))?(?:\/;PARTIAL=(\d+)(?:\.([1-9]\d*))?)?$/i;

export function parseMessageUrl(url: string): MessageUrl {
  if (/^[a-z][a-z0-9+.-]*:/i.test(url)) throw new BadUrlError(url, 'Invalid IMAP URL: Relative URL required');
  if (!url.startsWith('/')) throw new BadUrlError(url, "Invalid mailbox name: Name must not have '/' characters");
  const m = URL_SHAPE.exec(url);
  if (!m) throw new BadUrlError(url, 'Invalid IMAP URL');
  let mailbox: string;
  try {
    mailbox = decodeURIComponent(m[1]!);
  } catch {
    throw new BadUrlError(url, 'Invalid IMAP URL: Invalid mailbox name');
  }
  if (mailbox.toUpperCase() === 'INBOX') mailbox = 'INBOX';
  const section = m[4] === undefined ? null : decodeURIComponent(m[4]);
  const partial = m[5] === undefined ? null : { offset: Number(m[5]), length: m[6] === undefined ? undefined : Number(m[6]) };
  return { mailbox, uidValidity: m[2] === undefined ? null : Number(m[2]), uid: Number(m[3]), section, partial };
}

/** The bytes a relative message URL names, as FETCH BODY[section]<partial> would send them. */
export async function fetchUrl(session: CommandContext, url: string): Promise<Buffer> {
  const parsed = parseMessageUrl(url);
  const box = await session.store.getMailbox(parsed.mailbox);
  if (!box || box.noselect) throw new BadUrlError(url, `Mailbox doesn't exist: ${parsed.mailbox}`);
  if (parsed.uidValidity !== null && parsed.uidValidity !== box.uidValidity) throw new BadUrlError(url, 'Invalid UIDVALIDITY');
  const meta = (await session.store.getMessages(box.id, [parsed.uid]))[0];
  if (!meta) throw new BadUrlError(url, 'Message not found');
  const spec = parseSectionSpec(parsed.section ?? '');
  if (!spec) throw new BadUrlError(url, 'Invalid IMAP URL: Invalid section');
  const body = await session.store.openBody(meta.bodyId);
  const root = await loadMimeStructure(session.store, meta, body);
  const bytes = readSection(await syncBody(body), root, spec);
  return parsed.partial ? applyPartial(bytes, parsed.partial.offset, parsed.partial.length) : bytes;
}

/** The catenated message; `maxSize` (mail_max_message_size, 0 = none) bounds what is assembled. */
export async function catenateMessage(session: CommandContext, parts: readonly CatenatePart[], maxSize: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let size = 0;
  for (const part of parts) {
    const piece = part.type === 'text' ? await part.body.toBuffer() : await fetchUrl(session, part.url);
    size += piece.length;
    if (maxSize > 0 && size > maxSize) throw new CatenateTooBigError();
    pieces.push(piece);
  }
  return Buffer.concat(pieces, size);
}
