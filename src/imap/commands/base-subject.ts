// RFC 5256 §2.1 base subject: what SORT SUBJECT and THREAD compare, with the reply/forward
// decorations ("Re:", "Fwd:", "[list]", "(fwd)", "[Fwd: ...]") taken off. The input is the decoded
// Subject text; the result is upper-cased for comparison (Dovecot's imap-base-subject.c titlecases).

const WSP = /[ \t]/;

/** `[` *BLOBCHAR `]` *WSP at `i`: the index after it, or -1. */
function blobEnd(s: string, i: number): number {
  if (s[i] !== '[') return -1;
  let j = i + 1;
  while (j < s.length && s[j] !== '[' && s[j] !== ']') j++;
  if (s[j] !== ']') return -1;
  j++;
  while (j < s.length && WSP.test(s[j]!)) j++;
  return j;
}

/** subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at `i`: the index after it, or -1. */
function refwdEnd(s: string, i: number): number {
  let j: number;
  if (s.startsWith('RE', i)) j = i + 2;
  else if (s.startsWith('FWD', i)) j = i + 3;
  else if (s.startsWith('FW', i)) j = i + 2;
  else return -1;
  while (j < s.length && WSP.test(s[j]!)) j++;
  const blob = blobEnd(s, j);
  if (blob >= 0) j = blob;
  return s[j] === ':' ? j + 1 : -1;
}

/** Removes leading subj-leader text: *WSP, or *subj-blob subj-refwd. */
function stripLeaders(s: string): string {
  for (;;) {
    let i = 0;
    while (i < s.length && WSP.test(s[i]!)) i++;
    if (i > 0) {
      s = s.slice(i);
      continue;
    }
    let j = 0;
    for (let b = blobEnd(s, j); b >= 0; b = blobEnd(s, j)) j = b;
    const r = refwdEnd(s, j);
    if (r < 0) return s;
    s = s.slice(r);
  }
}

export interface BaseSubject {
  base: string;
  /** The subject had reply/forward decorations (RFC 5256 §2.1 "is a reply or forward"). */
  isReplyOrForward: boolean;
}

/** RFC 5256 §2.1 steps 1-6 on an already decoded subject. */
export function baseSubject(subject: string): BaseSubject {
  // (1) whitespace runs to one space; comparison form upper case.
  let s = subject.replace(/[\t\r\n ]+/g, ' ').toUpperCase();
  let changed = false;
  for (;;) {
    // (2) trailing "(fwd)" and whitespace.
    for (;;) {
      const before = s;
      s = s.replace(/[ \t]+$/, '');
      if (s.endsWith('(FWD)')) {
        s = s.slice(0, -5);
        changed = true;
      }
      if (s === before) break;
    }
    // (3)-(5) leaders and a leading blob that leaves something behind.
    for (;;) {
      const before = s;
      const stripped = stripLeaders(s);
      if (stripped !== s) {
        // Whitespace alone is not a reply marker.
        if (stripped.length !== s.trimStart().length) changed = true;
        s = stripped;
      }
      const b = blobEnd(s, 0);
      if (b >= 0 && b < s.length) s = s.slice(b);
      if (s === before) break;
    }
    // (6) [fwd: ...] wraps the whole subject.
    if (s.startsWith('[FWD:') && s.endsWith(']')) {
      s = s.slice(5, -1);
      changed = true;
      continue;
    }
    break;
  }
  return { base: s, isReplyOrForward: changed };
}
