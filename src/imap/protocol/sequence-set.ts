// Sequence sets (RFC 3501 §9 sequence-set, RFC 5182 `$`): numbers, `*`, ranges in either order,
// comma lists. The same type serves message sequence numbers and UIDs.

/** `'*'` is the largest number in use (last message or highest UID). */
export type SeqNumber = number | '*';

export interface SeqRange {
  from: SeqNumber;
  to: SeqNumber;
}

export type SequenceSet =
  | { kind: 'ranges'; ranges: SeqRange[] }
  /** RFC 5182 SEARCHRES: the result saved by the last `SEARCH RETURN (SAVE)`. */
  | { kind: 'saved' };

export const INVALID_MESSAGESET = 'Invalid messageset';
export const INVALID_UIDSET = 'Invalid uidset';

const NZ_NUMBER = /^[1-9][0-9]*$/;
const MAX_NUMBER = 0xffffffff; // RFC 3501 §9: nz-number is a 32-bit unsigned value

function parseSeqNumber(text: string): SeqNumber | null {
  if (text === '*') return '*';
  if (!NZ_NUMBER.test(text)) return null;
  const n = Number(text);
  return n <= MAX_NUMBER ? n : null;
}

/** Parses `text`; null when malformed (a `0`, empty element, stray characters). */
export function parseSequenceSet(text: string): SequenceSet | null {
  if (text === '$') return { kind: 'saved' };
  if (text.length === 0) return null;
  const ranges: SeqRange[] = [];
  for (const element of text.split(',')) {
    const colon = element.indexOf(':');
    if (colon < 0) {
      const n = parseSeqNumber(element);
      if (n === null) return null;
      ranges.push({ from: n, to: n });
    } else {
      const from = parseSeqNumber(element.slice(0, colon));
      const to = parseSeqNumber(element.slice(colon + 1));
      if (from === null || to === null) return null;
      ranges.push({ from, to });
    }
  }
  return { kind: 'ranges', ranges };
}

function resolve(n: SeqNumber, max: number): number {
  return n === '*' ? max : n;
}

/**
 * The set as sorted, merged, inclusive `[low, high]` intervals, with `*` = `max`.
 * Ranges are clipped to `1..max` (RFC 3501 §9: `*:4` and `4:*` are the same; with UIDs a range may
 * name numbers that do not exist). `saved` cannot be resolved here: the caller substitutes it.
 */
export function sequenceSetIntervals(set: SequenceSet, max: number): Array<[number, number]> {
  if (set.kind === 'saved') throw new Error('A saved ($) sequence set must be resolved by the caller');
  const raw: Array<[number, number]> = [];
  for (const r of set.ranges) {
    let lo = resolve(r.from, max);
    let hi = resolve(r.to, max);
    if (lo > hi) [lo, hi] = [hi, lo];
    // RFC 3501 §6.4.8: `*` with an empty mailbox (UID) still means "the last"; clip to max.
    if (hi > max) hi = max;
    if (lo < 1) lo = 1;
    if (lo <= hi) raw.push([lo, hi]);
  }
  raw.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const iv of raw) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1] + 1) last[1] = Math.max(last[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  return merged;
}

/** Every number in the set, ascending, with `*` = `max` (for sequence numbers: messageCount). */
export function expandSequenceSet(set: SequenceSet, max: number): number[] {
  const out: number[] = [];
  for (const [lo, hi] of sequenceSetIntervals(set, max)) for (let n = lo; n <= hi; n++) out.push(n);
  return out;
}

/** Whether `n` is in the set, with `*` = `max` (so `10:*` with max 50 does not hold 99). */
export function sequenceSetHas(set: SequenceSet, n: number, max: number): boolean {
  if (set.kind === 'saved') throw new Error('A saved ($) sequence set must be resolved by the caller');
  return set.ranges.some((r) => {
    let lo = resolve(r.from, max);
    let hi = resolve(r.to, max);
    if (lo > hi) [lo, hi] = [hi, lo];
    return n >= lo && n <= hi;
  });
}

/**
 * RFC 3501 §9: a sequence number beyond the mailbox is an error (Dovecot: BAD "Invalid messageset").
 * `*` always resolves; UIDs are never checked this way.
 */
export function sequenceSetFitsMessageCount(set: SequenceSet, messageCount: number): boolean {
  if (set.kind === 'saved') return true;
  return set.ranges.every((r) => (r.from === '*' || r.from <= messageCount) && (r.to === '*' || r.to <= messageCount));
}

/** The largest explicit number in the set (ignoring `*`), 0 if none. */
export function sequenceSetMaxNumber(set: SequenceSet): number {
  if (set.kind === 'saved') return 0;
  let max = 0;
  for (const r of set.ranges) for (const n of [r.from, r.to]) if (n !== '*' && n > max) max = n;
  return max;
}

/** Wire form of a parsed set, e.g. `1:3,7,9:*`. */
export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)).join(',');
}

/** Compact wire form of a list of numbers (COPYUID, VANISHED, ESEARCH ALL), e.g. `1:3,7`. */
export function formatNumberSet(numbers: Iterable<number>): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
