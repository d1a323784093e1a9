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

/**
 * Whether `name` matches `pattern` (`*` anything, `%` anything but `separator`). Tracks the set of
 * name positions reachable after each pattern character instead of backtracking, so a hostile
 * pattern like `*a*a*a...b` costs O(pattern x name), not exponential time (a regex did).
 */
function globMatch(pattern: string, name: string, separator: string): boolean {
  const n = name.length;
  let reach = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  reach[0] = 1;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    next.fill(0);
    let any = false;
    if (ch === '*' || ch === '%') {
      let on = false;
      for (let p = 0; p <= n; p++) {
        if (reach[p]) on = true;
        if (!on) continue;
        next[p] = 1;
        any = true;
        if (ch === '%' && separator && name.startsWith(separator, p)) on = false;
      }
    } else {
      for (let p = 0; p < n; p++) {
        if (reach[p] && name[p] === ch) {
          next[p + 1] = 1;
          any = true;
        }
      }
    }
    if (!any) return false;
    [reach, next] = [next, reach];
  }
  return reach[n] === 1;
}

export function compileMailboxPattern(pattern: string, separator: string): MailboxMatcher {
  const normalized = normalizeInbox(pattern, separator);
  const segments = separator ? normalized.split(separator) : [normalized];
  return {
    matches: (name) => globMatch(normalized, normalizeInbox(name, separator), separator),
    mayMatchChildren: (name) => {
      const levels = separator ? normalizeInbox(name, separator).split(separator) : [name];
      for (let i = 0; i < levels.length; i++) {
        const seg = segments[i];
        if (seg === undefined) return false;
        // From a `*` on, anything below can match if the text before the `*` does.
        const star = seg.indexOf('*');
        if (star >= 0) return globMatch(seg.slice(0, star) + '*', levels[i]!, separator);
        if (!globMatch(seg, levels[i]!, separator)) return false;
      }
      return segments.length > levels.length;
    },
  };
}

export function matchMailboxPattern(pattern: string, name: string, separator: string): boolean {
  return compileMailboxPattern(pattern, separator).matches(name);
}
