// LIST/LSUB pattern matching (RFC 3501 §6.3.8): `*` matches anything, `%` anything but the
// hierarchy separator. INBOX is case-insensitive, also as the first level of a deeper name.

export interface MailboxMatcher {
  /** Whether `name` matches. */
  matches(name: string): boolean;
  /** Whether some child of `name` could match (used to report parents for RECURSIVEMATCH / `%`). */
  mayMatchChildren(name: string): boolean;
}

function normalizeInbox(name: string, separator: string): string {
  if (name.length >= 5 && name.slice(0, 5).toUpperCase() === 'INBOX' && (name.length === 5 || name.slice(5, 5 + separator.length) === separator)) {
    return 'INBOX' + name.slice(5);
  }
  return name;
}

/** RFC 3501 §6.3.8: the reference name and the pattern are joined, then matched. */
export function joinReferenceAndPattern(reference: string, pattern: string, separator: string): string {
  if (reference === '') return pattern;
  if (separator && reference.endsWith(separator) && pattern.startsWith(separator)) return reference + pattern.slice(separator.length);
  return reference + pattern;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function compileMailboxPattern(pattern: string, separator: string): MailboxMatcher {
  const normalized = normalizeInbox(pattern, separator);
  const notSep = separator ? `(?:(?!${escapeRegExp(separator)})[\\s\\S])*` : '[\\s\\S]*';
  let source = '';
  for (const ch of normalized) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '%') source += notSep;
    else source += escapeRegExp(ch);
  }
  const full = new RegExp(`^${source}$`);
  const segments = separator ? normalized.split(separator) : [normalized];
  const segmentRegex = (seg: string) =>
    new RegExp(`^${[...seg].map((ch) => (ch === '%' ? notSep : ch === '*' ? '[\\s\\S]*' : escapeRegExp(ch))).join('')}$`);
  return {
    matches: (name) => full.test(normalizeInbox(name, separator)),
    mayMatchChildren: (name) => {
      const levels = separator ? normalizeInbox(name, separator).split(separator) : [name];
      for (let i = 0; i < levels.length; i++) {
        const seg = segments[i];
        if (seg === undefined) return false;
        // From a `*` on, anything below can match if the text before the `*` does.
        const star = seg.indexOf('*');
        if (star >= 0) return segmentRegex(seg.slice(0, star) + '*').test(levels[i]!);
        if (!segmentRegex(seg).test(levels[i]!)) return false;
      }
      return segments.length > levels.length;
    },
  };
}

export function matchMailboxPattern(pattern: string, name: string, separator: string): boolean {
  return compileMailboxPattern(pattern, separator).matches(name);
}
