// Header block parsing (RFC 5322 section 2.2): fields with their raw byte ranges and unfolded values.
// Values are "binary strings" (one char per byte, latin1) so 8-bit bytes survive unchanged.

export interface HeaderField {
  /** Field name as written (trailing whitespace before the colon removed). */
  name: string;
  /**
   * Value with leading whitespace skipped and NUL replaced by U+FFFD bytes. Folding line breaks
   * are kept (as "\r\n" or "\n"): Dovecot's full_value keeps them and its IMAP quoting reacts to them.
   */
  value: string;
  /** Offsets of the raw field (first line through its last continuation line, incl. line break), relative to the block. */
  rawStart: number;
  rawEnd: number;
  /** False for a line without a colon (kept so HEADER.FIELDS.NOT can pass it through). */
  hasColon: boolean;
}

// Dovecot's header parser turns NUL into U+FFFD in parsed values (seen in ENVELOPE output).
const REPLACEMENT_CHAR_BYTES = '\xef\xbf\xbd';

/** Splits a header block (up to, not including, the blank line) into fields. Never throws. */
export function parseHeaderFields(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = 0;
  let current: HeaderField | null = null;
  while (pos < block.length) {
    const lf = block.indexOf(10, pos);
    const lineEnd = lf < 0 ? block.length : lf + 1;
    let contentEnd = lf < 0 ? block.length : lf;
    if (contentEnd > pos && block[contentEnd - 1] === 13) contentEnd--;
    const first = block[pos];
    const text = block.toString('latin1', pos, contentEnd).replace(/\0/g, REPLACEMENT_CHAR_BYTES);
    if ((first === 32 || first === 9) && current) {
      current.value += block.toString('latin1', pos - (block[pos - 2] === 13 ? 2 : 1), pos) + text;
      current.rawEnd = lineEnd;
    } else {
      const colon = text.indexOf(':');
      current = {
        name: colon < 0 ? text : text.slice(0, colon).replace(/[ \t]+$/, ''),
        value: colon < 0 ? '' : text.slice(colon + 1).replace(/^[ \t]+/, ''),
        rawStart: pos,
        rawEnd: lineEnd,
        hasColon: colon >= 0,
      };
      fields.push(current);
    }
    pos = lineEnd;
  }
  return fields;
}

/** The first value of `name` (case-insensitive), or undefined. */
export function firstValue(fields: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const f of fields) if (f.hasColon && f.name.toLowerCase() === lower) return f.value;
  return undefined;
}
