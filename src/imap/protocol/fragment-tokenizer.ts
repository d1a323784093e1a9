// Tokenizes one line fragment of a command: the bytes up to a line end, or up to a literal marker
// `{n}` / `{n+}` / `~{n}` that ends the fragment (RFC 3501 §4.3, RFC 7888, RFC 3516).
// Lists may span fragments (a literal inside a list), so the open-list stack lives in the caller.
import type { ImapArg } from './args.js';

export interface LiteralMarker {
  size: number;
  /** `{n+}`: the client sends the bytes without waiting for `+` (RFC 7888). */
  nonSync: boolean;
  /** `~{n}` literal8 (RFC 3516 APPEND/SEARCH BINARY). */
  binary: boolean;
}

export interface TokenizeState {
  root: ImapArg[];
  /** Open lists, innermost last. */
  stack: ImapArg[][];
}

export type TokenizeResult = { ok: true; literal: LiteralMarker | null } | { ok: false; reason: string };

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Deepest list nesting accepted; no IMAP command needs more, and consumers recurse per level. */
export const MAX_LIST_DEPTH = 100;

function isAtomInvalid(c: number): string | null {
  if (c === 0x28 || c === 0x29 || c === 0x7b || c === DQUOTE || c < 0x20 || c === 0x7f) return 'Invalid characters in atom';
  if (c >= 0x80) return '8bit data in atom';
  return null;
}

function currentList(state: TokenizeState): ImapArg[] {
  return state.stack.length > 0 ? state.stack[state.stack.length - 1]! : state.root;
}

/** Parses `frag` (without its CR/LF) from `pos`, appending arguments into `state`. */
export function tokenizeFragment(frag: Buffer, pos: number, state: TokenizeState): TokenizeResult {
  let i = pos;
  while (i < frag.length) {
    const c = frag[i]!;
    if (c === SP) {
      i++;
      continue;
    }
    if (c === 0x28 /* ( */) {
      if (state.stack.length >= MAX_LIST_DEPTH) return { ok: false, reason: 'Too deep list nesting' };
      const list: ImapArg[] = [];
      currentList(state).push({ type: 'list', items: list });
      state.stack.push(list);
      i++;
      continue;
    }
    if (c === 0x29 /* ) */) {
      if (state.stack.length === 0) return { ok: false, reason: "Unexpected ')'" };
      state.stack.pop();
      i++;
      continue;
    }
    if (c === DQUOTE) {
      const bytes: number[] = [];
      let j = i + 1;
      let closed = false;
      while (j < frag.length) {
        const d = frag[j]!;
        if (d === DQUOTE) {
          closed = true;
          break;
        }
        if (d === BACKSLASH && j + 1 < frag.length) {
          // RFC 3501 §9 quoted-specials; like Dovecot, any escaped byte stands for itself.
          bytes.push(frag[j + 1]!);
          j += 2;
          continue;
        }
        bytes.push(d);
        j++;
      }
      if (!closed) return { ok: false, reason: "Missing '\"'" };
      const raw = Buffer.from(bytes);
      // 8-bit bytes are kept as sent too: SEARCH CHARSET reads them in another charset.
      currentList(state).push(bytes.some((b) => b >= 0x80) ? { type: 'string', value: raw.toString('utf8'), raw } : { type: 'string', value: raw.toString('utf8') });
      i = j + 1;
      continue;
    }
    if (c === 0x7b /* { */ || (c === 0x7e /* ~ */ && frag[i + 1] === 0x7b)) {
      return readLiteralMarker(frag, c === 0x7e ? i + 2 : i + 1, c === 0x7e);
    }
    // Atom. A `[` opens a section spec (`BODY.PEEK[HEADER.FIELDS (From To)]<0.100>`) that may hold
    // spaces and parentheses up to its `]`; it stays part of the atom.
    const start = i;
    while (i < frag.length) {
      const d = frag[i]!;
      if (d === SP || d === 0x29) break;
      if (d === 0x5b /* [ */) {
        // Without a closing `]` it is an ordinary atom character (a password like `pa[ss`).
        const close = findSectionEnd(frag, i + 1);
        i = close < 0 ? i + 1 : close + 1;
        continue;
      }
      const bad = isAtomInvalid(d);
      if (bad) return { ok: false, reason: bad };
      i++;
    }
    const value = frag.toString('latin1', start, i);
    currentList(state).push(value.toUpperCase() === 'NIL' ? { type: 'nil' } : { type: 'atom', value });
  }
  return { ok: true, literal: null };
}

function findSectionEnd(frag: Buffer, from: number): number {
  let inQuote = false;
  for (let j = from; j < frag.length; j++) {
    const d = frag[j]!;
    if (d >= 0x80 || d < 0x20) return -1;
    if (inQuote) {
      if (d === BACKSLASH) j++;
      else if (d === DQUOTE) inQuote = false;
    } else if (d === DQUOTE) inQuote = true;
    else if (d === 0x5d /* ] */) return j;
  }
  return -1;
}

function readLiteralMarker(frag: Buffer, from: number, binary: boolean): TokenizeResult {
  let j = from;
  let size = 0;
  let digits = 0;
  while (j < frag.length && frag[j]! >= 0x30 && frag[j]! <= 0x39) {
    size = size * 10 + (frag[j]! - 0x30);
    digits++;
    j++;
    if (size > Number.MAX_SAFE_INTEGER) return { ok: false, reason: 'Literal size too large' };
  }
  if (digits === 0) return { ok: false, reason: 'Invalid literal size' };
  let nonSync = false;
  if (frag[j] === 0x2b /* + */) {
    nonSync = true;
    j++;
    if (frag[j] !== 0x7d) return { ok: false, reason: "Expecting '}' after '+'" };
  }
  if (frag[j] !== 0x7d /* } */) return { ok: false, reason: 'Invalid literal size' };
  // RFC 3501 §4.3: the literal's octets follow the CRLF right after `}`.
  if (j + 1 !== frag.length) return { ok: false, reason: 'Missing LF after literal size' };
  return { ok: true, literal: { size, nonSync, binary } };
}

/** Finds a literal marker at the very end of a raw fragment (used while skipping a failed command). */
export function trailingLiteralMarker(frag: Buffer): LiteralMarker | null {
  const tail = frag.toString('latin1', Math.max(0, frag.length - 24));
  const m = /(~?)\{(\d{1,15})(\+?)\}$/.exec(tail);
  if (!m) return null;
  return { size: Number(m[2]), nonSync: m[3] === '+', binary: m[1] === '~' };
}
