// SORT / UID SORT (RFC 5256 §3) with SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267 §3: RETURN
// (MIN MAX ALL COUNT SAVE) in sort order). The search runs as SEARCH does; the matches' sort facts
// are read in time slices (sort-facts.ts); ties go by sequence number (RFC 5256 §3).
import type { PartialRange, SortCriterion, SearchKey, SearchReturnOption } from '../protocol/index.js';
import { formatPartial, searchCharsetError } from './search-response.js';
import type { CommandContext } from './context.js';
import { searchInSlices, type SearchMessage } from './search-eval.js';
import { collectSortFacts, type FactNeed, type SortFacts } from './sort-facts.js';
import { listMessages, textCacheFor } from './search.js';
import { ok, SELECTED, type CommandHandler } from './types.js';
import { SORT_SLICE_MS, sortInSlices } from './yield-slices.js';

/** The selected messages that match `criteria`, in sequence order; null when the client went away. */
export async function matchingMessages(session: CommandContext, criteria: SearchKey): Promise<SearchMessage[] | null> {
  const view = session.selected!;
  const store = session.store;
  const aborted = () => session.client.isClosed || session.selected !== view;
  const messages = await listMessages(store, view, aborted);
  if (messages === null) return null;
  const uids = view.allUids;
  const result = await searchInSlices({ store, textCache: textCacheFor(store) }, messages, criteria, {
    recentUids: view.recentUids,
    highestSeq: view.count,
    maxUid: uids.length > 0 ? uids[uids.length - 1]! : 0,
    savedResult: session.savedSearch ?? undefined,
    returnUids: false,
  }, { aborted });
  if (result === null) return null;
  const matched = new Set(result.numbers);
  return messages.filter((m) => matched.has(m.seq));
}

/** Matching messages with their sort facts; null when the client went away. */
export async function matchingFacts(session: CommandContext, criteria: SearchKey, needs: ReadonlySet<FactNeed>): Promise<SortFacts[] | null> {
  const matched = await matchingMessages(session, criteria);
  if (matched === null) return null;
  const view = session.selected!;
  return collectSortFacts({ store: session.store, textCache: textCacheFor(session.store) }, matched, needs, {
    aborted: () => session.client.isClosed || session.selected !== view,
  });
}

const SORT_NEEDS: Record<SortCriterion['key'], FactNeed | null> = {
  ARRIVAL: null, SIZE: null, DATE: 'date', SUBJECT: 'subject', FROM: 'from', TO: 'to', CC: 'cc', DISPLAYFROM: 'from', DISPLAYTO: 'to',
};

function compareKey(a: SortFacts, b: SortFacts, c: SortCriterion): number {
  let d: number;
  switch (c.key) {
    case 'ARRIVAL': d = a.arrival - b.arrival; break;
    case 'DATE': d = a.date - b.date; break;
    case 'SIZE': d = a.size - b.size; break;
    case 'SUBJECT': d = cmp(a.subject, b.subject); break;
    case 'FROM': d = cmp(a.from, b.from); break;
    case 'TO': d = cmp(a.to, b.to); break;
    case 'CC': d = cmp(a.cc, b.cc); break;
    case 'DISPLAYFROM': d = cmp(a.displayFrom, b.displayFrom); break;
    case 'DISPLAYTO': d = cmp(a.displayTo, b.displayTo); break;
  }
  return c.reverse ? -d : d;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Facts sorted by the program, ties by sequence number; in slices (10,000 messages take tens of ms). */
export function sortFacts(facts: readonly SortFacts[], program: readonly SortCriterion[]): Promise<SortFacts[]> {
  return sortInSlices(facts, (a, b) => {
    for (const c of program) {
      const d = compareKey(a, b, c);
      if (d !== 0) return d;
    }
    return a.seq - b.seq;
  }, { sliceMs: SORT_SLICE_MS });
}

/** ESORT's ALL: the numbers in sort order, ascending runs written as ranges (Dovecot's form). */
function sortedSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(i === j ? String(numbers[i]) : `${numbers[i]}:${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** RFC 5267 §3: MIN and MAX are the first and last in sort order. Null for SAVE alone. */
function formatEsort(tag: string, uid: boolean, numbers: readonly number[], options: readonly SearchReturnOption[], partial: PartialRange | null): string | null {
  const opts = new Set(options);
  if (opts.size === 1 && opts.has('SAVE')) return null;
  let line = `* ESEARCH (TAG "${tag.replace(/[\\"]/g, '\\$&')}")`;
  if (uid) line += ' UID';
  if (numbers.length > 0) {
    if (opts.has('MIN')) line += ` MIN ${numbers[0]}`;
    if (opts.has('MAX')) line += ` MAX ${numbers[numbers.length - 1]}`;
    if (opts.has('ALL')) line += ` ALL ${sortedSet(numbers)}`;
  }
  if (partial) line += ` ${formatPartial(numbers, partial, sortedSet)}`;
  if (opts.has('COUNT')) line += ` COUNT ${numbers.length}`;
  return line + '\r\n';
}

export const SORT: CommandHandler<'SORT'> = {
  states: SELECTED,
  mayAnnounceExpunge: (cmd) => cmd.uid,
  async run(session, tag, cmd) {
    const charsetError = searchCharsetError(cmd.charset, session.isEnabled('UTF8=ACCEPT'));
    if (charsetError) return charsetError;
    const view = session.selected!;
    const facts = await matchingFacts(session, cmd.criteria, new Set(cmd.program.map((c) => SORT_NEEDS[c.key]).filter((n) => n !== null)));
    if (facts === null) return null;
    const sorted = await sortFacts(facts, cmd.program);
    // The client went away during a pause: nobody to answer.
    if (session.client.isClosed || session.selected !== view) return null;
    const numbers = sorted.map((f) => (cmd.uid ? f.uid : f.seq));
    if (cmd.returnOptions === null) {
      session.respond(`* SORT${numbers.map((n) => ' ' + n).join('')}\r\n`);
      return ok('Sort completed.');
    }
    // RFC 5182 with RFC 5267: SAVE keeps the matches (as UIDs) for `$`.
    if (cmd.returnOptions.includes('SAVE')) session.savedSearch = sorted.map((f) => f.uid).sort((a, b) => a - b);
    const line = formatEsort(tag, cmd.uid, numbers, cmd.returnOptions, cmd.partial);
    if (line) session.respond(line);
    return ok('Sort completed.');
  },
};
