// The CHARSET of SEARCH, SORT and THREAD (RFC 3501 §6.4.4, RFC 5256 §3): the search strings arrive
// in that charset and are compared as Unicode. Like Dovecot 2.3.19 (which converts with iconv):
// US-ASCII and UTF-8 are read as UTF-8; any other charset the platform's TextDecoder knows
// (ISO-8859-*, windows-125x, KOI8-R, Shift_JIS, GB18030, UTF-16, ...) is converted; bytes that are
// not valid in the charset make the command BAD ("Invalid search key"); a charset nobody knows is
// the handler's `NO [BADCHARSET]`, and its strings are read as UTF-8 meanwhile.

/** Charsets read as UTF-8 (US-ASCII is a subset). */
const UTF8_NAMES = new Set(['UTF-8', 'UTF8', 'US-ASCII', 'ASCII', 'US_ASCII', 'ANSI_X3.4-1968', '']);

export function isUtf8Charset(charset: string | null): boolean {
  return charset === null || UTF8_NAMES.has(charset.toUpperCase());
}

/** A strict decoder for `charset`, or null when the charset is unknown. */
export function charsetDecoder(charset: string | null): TextDecoder | null {
  try {
    return new TextDecoder(isUtf8Charset(charset) ? 'utf-8' : charset!, { fatal: true });
  } catch {
    return null;
  }
}

export function isKnownCharset(charset: string | null): boolean {
  return charsetDecoder(charset) !== null;
}
