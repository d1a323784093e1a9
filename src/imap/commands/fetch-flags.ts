// FLAGS as Dovecot 2.3.19 writes them (imap-util.c imap_write_flags): system flags in the fixed
// order \Answered \Flagged \Deleted \Seen \Draft, then \Recent, then keywords in stored order.
const SYSTEM_ORDER = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
const SYSTEM_RANK = new Map(SYSTEM_ORDER.map((f, i) => [f.toLowerCase(), i]));

/** `(\Seen \Recent $Label)`; `flags` as storage lists them (system flags may come in any case/order). */
export function formatFlagList(flags: readonly string[], recent: boolean): string {
  // Fast path: storage already lists system flags in Dovecot's order, keywords after them.
  let system = '';
  let keywords = '';
  let ordered = true;
  let lastRank = -1;
  for (const f of flags) {
    if (f.charCodeAt(0) === 92 /* \ */) {
      const rank = SYSTEM_RANK.get(f.toLowerCase());
      if (rank === undefined) continue; // \Recent or unknown: never stored
      if (rank < lastRank) ordered = false;
      lastRank = rank;
      system += system ? ' ' + SYSTEM_ORDER[rank] : SYSTEM_ORDER[rank];
    } else {
      keywords += keywords ? ' ' + f : f;
    }
  }
  if (!ordered) {
    const present = new Set(flags.map((f) => f.toLowerCase()));
    system = SYSTEM_ORDER.filter((f) => present.has(f.toLowerCase())).join(' ');
  }
  if (recent) system += system ? ' \\Recent' : '\\Recent';
  if (keywords) system += system ? ' ' + keywords : keywords;
  return '(' + system + ')';
}
