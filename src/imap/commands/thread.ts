// THREAD / UID THREAD (RFC 5256 §3, §4): ORDEREDSUBJECT, REFERENCES (the Message-ID/References
// algorithm of RFC 5256 §4 with subject grouping) and REFS (REFERENCES without subject grouping,
// threads ordered by their latest message, as Dovecot's THREAD=REFS). Sent dates and base
// subjects come from sort-facts.ts; ties go by sequence number.
import type { FactNeed, SortFacts } from './sort-facts.js';
import { searchCharsetError } from './search-response.js';
import { matchingFacts } from './sort.js';
import { ok, SELECTED, type CommandHandler } from './types.js';
import { nextTurn, SORT_SLICE_MS, sortInSlices } from './yield-slices.js';

interface Node {
  facts: SortFacts | null; // null: a dummy (a message referred to but not present)
  parent: Node | null;
  children: Node[];
}

const newNode = (facts: SortFacts | null = null): Node => ({ facts, parent: null, children: [] });

function isAncestor(maybeAncestor: Node, node: Node): boolean {
  for (let n: Node | null = node; n; n = n.parent) if (n === maybeAncestor) return true;
  return false;
}

function unlink(child: Node): void {
  const p = child.parent;
  if (!p) return;
  p.children.splice(p.children.indexOf(child), 1);
  child.parent = null;
}

function link(parent: Node, child: Node): void {
  unlink(child);
  child.parent = parent;
  parent.children.push(child);
}

/** Messages linked between two turns of the event loop. */
const LINK_BATCH = 1000;

/** RFC 5256 §4 steps 1-4: containers linked by Message-ID and References, dummies pruned. */
async function buildRoots(facts: readonly SortFacts[]): Promise<Node[]> {
  const byId = new Map<string, Node>();
  const all: Node[] = [];
  let linked = 0;
  for (const f of facts) {
    if (++linked % LINK_BATCH === 0) await nextTurn();
    // (1A) a message whose Message-ID is missing or already taken gets a container of its own.
    let node = f.messageId !== null ? byId.get(f.messageId) : undefined;
    if (node && node.facts === null) node.facts = f;
    else {
      node = newNode(f);
      if (f.messageId !== null && !byId.has(f.messageId)) byId.set(f.messageId, node);
    }
    all.push(node);
    // (1B) link the references in order, never making a loop or re-parenting.
    let prev: Node | null = null;
    for (const id of f.references) {
      let ref = byId.get(id);
      if (!ref) {
        ref = newNode();
        byId.set(id, ref);
        all.push(ref);
      }
      if (prev && ref.parent === null && ref !== prev && !isAncestor(ref, prev)) link(prev, ref);
      prev = ref;
    }
    // (1C) the last reference is this message's parent, unless that would make a loop.
    if (prev && prev !== node && !isAncestor(node, prev)) link(prev, node);
    else if (prev === null) unlink(node);
  }
  const roots = all.filter((n) => n.parent === null);
  return prune(roots, true);
}

/** (4) dummies without children go; a dummy's children move up (at the root only when alone). */
function prune(nodes: Node[], atRoot: boolean): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    n.children = prune(n.children, false);
    for (const c of n.children) c.parent = n;
    if (n.facts !== null) out.push(n);
    else if (n.children.length === 0) continue;
    else if (!atRoot || n.children.length === 1) {
      for (const c of n.children) {
        c.parent = n.parent;
        out.push(c);
      }
    } else out.push(n);
  }
  return out;
}

/** A node's date for ordering: its own sent date, a dummy's that of its first child. */
function nodeDate(n: Node): number {
  if (n.facts) return n.facts.date;
  return n.children.length > 0 ? nodeDate(n.children[0]!) : 0;
}
function nodeSeq(n: Node): number {
  if (n.facts) return n.facts.seq;
  return n.children.length > 0 ? nodeSeq(n.children[0]!) : 0;
}

/** (6) siblings by sent date, then sequence number, all the way down. */
function sortTree(nodes: Node[]): void {
  for (const n of nodes) sortTree(n.children);
  nodes.sort((a, b) => nodeDate(a) - nodeDate(b) || nodeSeq(a) - nodeSeq(b));
}

function subjectOf(n: Node): SortFacts | null {
  return n.facts ?? (n.children[0] ? subjectOf(n.children[0]) : null);
}

/** (5) roots with the same base subject become one thread. */
function groupBySubject(roots: Node[]): Node[] {
  const table = new Map<string, Node>();
  for (const r of roots) {
    const f = subjectOf(r);
    if (!f || f.subject === '') continue;
    const old = table.get(f.subject);
    if (!old) table.set(f.subject, r);
    else if ((r.facts === null && old.facts !== null) || (old.facts !== null && r.facts !== null && old.facts.subjectIsReply && !r.facts.subjectIsReply)) {
      table.set(f.subject, r);
    }
  }
  const out: Node[] = [];
  for (const r of roots) {
    const f = subjectOf(r);
    const c = f && f.subject !== '' ? table.get(f.subject) : undefined;
    if (!c || c === r) {
      out.push(r);
      continue;
    }
    if (r.facts === null && c.facts === null) {
      for (const child of [...r.children]) link(c, child);
    } else if (c.facts === null) {
      link(c, r);
    } else if (!c.facts.subjectIsReply && r.facts !== null && r.facts.subjectIsReply) {
      link(c, r);
    } else {
      // Neither is a dummy or a plain reply to the other: both under a new dummy, where c was.
      const dummy = newNode();
      const at = out.indexOf(c);
      link(dummy, c);
      link(dummy, r);
      if (at >= 0) out[at] = dummy;
      else table.set(f!.subject, dummy);
      table.set(f!.subject, dummy);
    }
  }
  // A container that got a new dummy parent after it was placed is replaced by that dummy.
  return [...new Set(out.map((n) => (n.parent ? rootOf(n) : n)))];
}

function rootOf(n: Node): Node {
  let r = n;
  while (r.parent) r = r.parent;
  return r;
}

function latest(n: Node): number {
  let d = n.facts ? n.facts.date : -Infinity;
  for (const c of n.children) d = Math.max(d, latest(c));
  return d;
}

async function orderedSubject(facts: SortFacts[]): Promise<Node[]> {
  const sorted = await sortInSlices(facts, (a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.date - b.date || a.seq - b.seq), { sliceMs: SORT_SLICE_MS });
  await nextTurn();
  const roots: Node[] = [];
  let current: Node | null = null;
  for (const f of sorted) {
    if (current && current.facts!.subject === f.subject) link(current, newNode(f));
    else {
      current = newNode(f);
      roots.push(current);
    }
  }
  roots.sort((a, b) => a.facts!.date - b.facts!.date || a.facts!.seq - b.facts!.seq);
  return roots;
}

/** RFC 5256 §4 thread-list syntax: `(a b (c)(d))`; a lone child continues the chain. */
function formatNode(n: Node, uid: boolean): string {
  const self = n.facts ? String(uid ? n.facts.uid : n.facts.seq) : '';
  if (n.children.length === 0) return self;
  const kids = n.children.length === 1 && n.facts ? formatNode(n.children[0]!, uid) : n.children.map((c) => `(${formatNode(c, uid)})`).join('');
  return self === '' ? kids : `${self} ${kids}`;
}

export function threadLine(roots: readonly Node[], uid: boolean): string {
  return `* THREAD ${roots.map((r) => `(${formatNode(r, uid)})`).join('')}\r\n`;
}

/** Threads `facts`; a turn of the event loop between the steps keeps other connections served. */
export async function threadFacts(facts: SortFacts[], algorithm: 'ORDEREDSUBJECT' | 'REFERENCES' | 'REFS'): Promise<Node[]> {
  if (algorithm === 'ORDEREDSUBJECT') return orderedSubject(facts);
  let roots = await buildRoots(facts);
  await nextTurn();
  sortTree(roots);
  if (algorithm === 'REFERENCES') {
    await nextTurn();
    roots = groupBySubject(roots);
    await nextTurn();
    sortTree(roots);
    return roots;
  }
  await nextTurn();
  // Threads by their latest sent date, then the root's number, a dummy root counting as 0
  // (Dovecot's sort_root_nodes_ref2 in index-thread-finish.c).
  const keys = new Map(roots.map((r) => [r, latest(r)]));
  return sortInSlices(roots, (a, b) => keys.get(a)! - keys.get(b)! || (a.facts?.seq ?? 0) - (b.facts?.seq ?? 0), { sliceMs: SORT_SLICE_MS });
}

export const THREAD: CommandHandler<'THREAD'> = {
  states: SELECTED,
  mayAnnounceExpunge: (cmd) => cmd.uid,
  async run(session, _tag, cmd) {
    const charsetError = searchCharsetError(cmd.charset, session.isEnabled('UTF8=ACCEPT'));
    if (charsetError) return charsetError;
    const needs = new Set<FactNeed>(cmd.algorithm === 'ORDEREDSUBJECT' ? ['date', 'subject'] : cmd.algorithm === 'REFS' ? ['date', 'references'] : ['date', 'subject', 'references']);
    const facts = await matchingFacts(session, cmd.criteria, needs);
    if (facts === null) return null;
    const roots = await threadFacts(facts, cmd.algorithm);
    session.respond(threadLine(roots, cmd.uid));
    return ok('Thread completed.');
  },
};
