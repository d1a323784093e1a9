// Message flags: system flags as Dovecot's bit values (spec §6), keywords as IMAP atoms.
import { FLAG_BITS, StorageError, SYSTEM_FLAGS, type SystemFlag } from './types.js';

const SYSTEM_BY_LOWER = new Map<string, SystemFlag>(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

export interface ParsedFlags {
  bits: number;
  /** Keywords as given, deduplicated case-insensitively. */
  keywords: string[];
}

/**
 * Splits IMAP flags into system bits and keywords. `\Recent` cannot be stored (RFC 3501 §2.3.2) and
 * other `\`-flags are not flags at all; keywords must be atoms (RFC 3501 §9 flag-keyword).
 */
export function parseFlags(flags: readonly string[], maxKeywordBytes: number): ParsedFlags {
  let bits = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const sys = SYSTEM_BY_LOWER.get(f.toLowerCase());
      if (!sys) {
        throw new StorageError('PARAMETERS', f.toLowerCase() === '\\recent' ? 'Cannot store \\Recent' : `Invalid system flag ${f}`);
      }
      bits |= FLAG_BITS[sys];
      continue;
    }
    validateKeyword(f, maxKeywordBytes);
    const lc = f.toLowerCase();
    if (!seen.has(lc)) {
      seen.add(lc);
      keywords.push(f);
    }
  }
  return { bits, keywords };
}

// atom-specials (RFC 3501 §9): ( ) { SP CTL % * " \ ] — and non-ASCII is not an atom either.
// eslint-disable-next-line no-control-regex
const NOT_ATOM = /[(){ %*"\\\]\u0000-\u001f\u007f-\uffff]/;

export function validateKeyword(k: string, maxKeywordBytes: number): void {
  if (k.length === 0 || NOT_ATOM.test(k)) throw new StorageError('PARAMETERS', `Invalid keyword ${JSON.stringify(k)}`);
  if (k.length > maxKeywordBytes) throw new StorageError('PARAMETERS', `Keyword longer than ${maxKeywordBytes} bytes`);
}

/** IMAP flag list from stored bits and the stored keyword string, system flags first. */
export function flagsToList(bits: number, keywords: string | null): string[] {
  const out: string[] = [];
  if (bits & 1) out.push('\\Answered');
  if (bits & 2) out.push('\\Flagged');
  if (bits & 4) out.push('\\Deleted');
  if (bits & 8) out.push('\\Seen');
  if (bits & 16) out.push('\\Draft');
  if (keywords) for (const k of keywords.split(' ')) out.push(k);
  return out;
}

export function keywordsToColumn(keywords: readonly string[]): string | null {
  return keywords.length === 0 ? null : keywords.join(' ');
}

export function keywordsFromColumn(col: string | null): string[] {
  return col ? col.split(' ') : [];
}

export const SEEN_BIT = FLAG_BITS['\\Seen'];

/**
 * STORE on one message (RFC 3501 §6.4.6): the flags after `operation` with `bits` and `keywords`
 * (already in the mailbox's spelling), or null when nothing changes. Keywords compare
 * case-insensitively; an added keyword goes after the ones the message has.
 */
export function applyFlagOperation(
  operation: 'set' | 'add' | 'remove',
  oldBits: number,
  oldKeywords: string | null,
  bits: number,
  keywords: readonly string[],
): { bits: number; keywords: string | null } | null {
  const old = keywordsFromColumn(oldKeywords);
  let newBits: number;
  let newKw: readonly string[];
  if (operation === 'set') {
    newBits = bits;
    newKw = keywords;
  } else if (operation === 'add') {
    newBits = oldBits | bits;
    const have = new Set(old.map((k) => k.toLowerCase()));
    newKw = [...old, ...keywords.filter((k) => !have.has(k.toLowerCase()))];
  } else {
    const gone = new Set(keywords.map((k) => k.toLowerCase()));
    newBits = oldBits & ~bits;
    newKw = old.filter((k) => !gone.has(k.toLowerCase()));
  }
  const newCol = keywordsToColumn(newKw);
  if (newBits === oldBits && sameKeywords(oldKeywords, newCol)) return null;
  return { bits: newBits, keywords: newCol };
}

function sameKeywords(a: string | null, b: string | null): boolean {
  if (a === b) return true;
  const x = keywordsFromColumn(a);
  const y = keywordsFromColumn(b);
  return x.length === y.length && x.every((k) => y.includes(k));
}

/** UIDs as a caller may name them: 32-bit nz-numbers (RFC 3501 §9); PARAMETERS otherwise. */
export function validateUids(uids: readonly number[]): void {
  for (const u of uids) {
    if (!Number.isInteger(u) || u < 1 || u > 0xffffffff) throw new StorageError('PARAMETERS', `Invalid UID ${String(u)}`);
  }
}
