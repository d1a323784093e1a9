// Mailbox name rules. Names arrive as UTF-8 (the IMAP layer decodes modified UTF-7) with the
// store's hierarchy separator.
import { StorageError, type StorageSettings } from './types.js';

export const INBOX = 'INBOX';

type NameLimits = Pick<StorageSettings, 'maxMailboxNameBytes' | 'maxMailboxLevelBytes' | 'maxMailboxDepth'>;

/**
 * `INBOX` is case-insensitive (RFC 3501 §5.1), and so is an `INBOX<sep>` prefix (Dovecot treats
 * `inbox/x` as `INBOX/x`). Everything else is case-sensitive.
 */
export function normalizeMailboxName(name: string, separator: string): string {
  if (name.length < 5) return name;
  const head = name.slice(0, 5);
  if (head.toUpperCase() !== INBOX || head === INBOX) return name;
  if (name.length === 5 || name.startsWith(separator, 5)) return INBOX + name.slice(5);
  return name;
}

export function isInbox(name: string): boolean {
  return name === INBOX;
}

/**
 * Checks a name for CREATE/RENAME/APPEND targets and returns its levels. Rules (PARAMETERS on
 * failure): not empty; no empty level (so no leading, trailing or doubled separator); no `*` or `%`
 * (LIST wildcards, RFC 3501 §6.3.3 note); no control characters; byte limits per name and per level
 * and a maximum depth from the settings.
 */
export function validateMailboxName(name: string, separator: string, limits: NameLimits): string[] {
  const bad = (why: string) => new StorageError('PARAMETERS', `Invalid mailbox name ${JSON.stringify(name)}: ${why}`);
  if (name.length === 0) throw bad('empty name');
  if (Buffer.byteLength(name, 'utf8') > limits.maxMailboxNameBytes) {
    throw bad(`longer than ${limits.maxMailboxNameBytes} bytes`);
  }
  if (/[*%]/.test(name)) throw bad('contains a wildcard (* or %)');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw bad('contains a control character');
  if (name.includes('\uFFFD')) throw bad('not valid UTF-8');
  const levels = name.split(separator);
  if (levels.length > limits.maxMailboxDepth) throw bad(`more than ${limits.maxMailboxDepth} levels`);
  for (const level of levels) {
    if (level.length === 0) throw bad('empty hierarchy level');
    if (Buffer.byteLength(level, 'utf8') > limits.maxMailboxLevelBytes) {
      throw bad(`a level is longer than ${limits.maxMailboxLevelBytes} bytes`);
    }
  }
  return levels;
}

/** The ancestors of a name, outermost first: `a/b/c` → [`a`, `a/b`]. */
export function parentNames(name: string, separator: string): string[] {
  const levels = name.split(separator);
  const out: string[] = [];
  for (let i = 1; i < levels.length; i++) out.push(levels.slice(0, i).join(separator));
  return out;
}

/** RFC 6154 special-use attributes plus RFC 8457 \Important (Dovecot accepts it too). */
export const SPECIAL_USE_ATTRIBUTES = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important'];

/** Canonical spelling of each attribute, deduplicated; PARAMETERS (USEATTR) for an unknown one. */
export function normalizeSpecialUse(attrs: string[]): string[] {
  const out: string[] = [];
  for (const a of attrs) {
    const canon = SPECIAL_USE_ATTRIBUTES.find((s) => s.toLowerCase() === a.toLowerCase());
    if (!canon) throw new StorageError('PARAMETERS', `Unknown special-use attribute ${a}`);
    if (!out.includes(canon)) out.push(canon);
  }
  return out;
}
