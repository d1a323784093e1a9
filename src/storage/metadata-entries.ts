// RFC 5464 entry names: `/private/...` or `/shared/...`, slash-separated, case-insensitive.
import { StorageError } from './types.js';

/**
 * Dovecot keeps internal attributes under `vendor/vendor.dovecot/pvt/` (e.g. the user's server
 * metadata as `vendor/vendor.dovecot/pvt/server/<key>` on INBOX). IMAP clients must not reach them;
 * the protocol layer refuses entries for which this returns true. Storage itself allows them.
 */
export function isDovecotInternalEntry(entry: string): boolean {
  return /^\/(private|shared)\/vendor\/vendor\.dovecot\/pvt(\/|$)/i.test(entry);
}

/** How strictly entry names are checked. */
export interface EntryNameRules {
  /**
   * Dovecot's Lua API (mailbox/user metadata_*) takes any name after /private/ or /shared/: `*`,
   * `%`, `//` and a trailing `/` included (checked on Dovecot 2.3.19). RFC 5464's rules are for IMAP.
   */
  anyName?: boolean;
}

/**
 * Validates an entry for GETMETADATA/SETMETADATA and returns its lower-cased key. RFC 5464 §3.2:
 * begins with /private/ or /shared/, no `*` `%`, no control characters, no `//`, no trailing `/`.
 * Always: a non-empty name, no control characters (they could not be listed back over IMAP).
 */
export function validateEntry(entry: string, maxEntryBytes: number, rules: EntryNameRules = {}): string {
  const bad = (why: string) => new StorageError('PARAMETERS', `Invalid metadata entry ${JSON.stringify(entry)}: ${why}`);
  if (!/^\/(private|shared)\/./i.test(entry)) throw bad('must begin with /private/ or /shared/');
  if (Buffer.byteLength(entry, 'utf8') > maxEntryBytes) throw bad(`longer than ${maxEntryBytes} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0019\u007f]/.test(entry)) throw bad('contains a control character');
  if (rules.anyName) return entry.toLowerCase();
  if (/[*%]/.test(entry)) throw bad('contains * or %');
  if (entry.includes('//')) throw bad('contains an empty component');
  if (entry.endsWith('/')) throw bad('ends with /');
  return entry.toLowerCase();
}

/**
 * A GETMETADATA DEPTH prefix: a valid entry, or just `/private` / `/shared` (a trailing `/` is
 * tolerated, as Dovecot's Lua `metadata_list("/private/")` passes it). Returns the lower-cased prefix
 * without a trailing slash.
 */
export function validatePrefix(prefix: string, maxEntryBytes: number): string {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (/^\/(private|shared)$/i.test(trimmed)) return trimmed.toLowerCase();
  return validateEntry(trimmed, maxEntryBytes);
}
