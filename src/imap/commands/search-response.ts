// SEARCH / ESEARCH responses (RFC 3501 §7.2.5, RFC 4731 §3.1, RFC 7162 §3.1.5), formatted as
// Dovecot 2.3.19 writes them: `* ESEARCH (TAG "a1") UID MIN 1 MAX 7 ALL 1:3,7 COUNT 4 MODSEQ 9`
// (MIN, MAX, ALL, COUNT, MODSEQ in that order; MIN/MAX/ALL left out when nothing matched).
import type { PartialRange, SearchReturnOption } from '../protocol/commands.js';
import { isKnownCharset, isUtf8Charset } from '../protocol/search-charset.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import { badSyntax, no, type CommandResult } from './types.js';

/** The response code for a charset Roost does not know; it lists the two every client may use. */
export const BADCHARSET_CODE = 'BADCHARSET (US-ASCII UTF-8)';

/**
 * The answer to the CHARSET of SEARCH (optional) or SORT/THREAD (mandatory), or null when it can be
 * used (the parser has already read the strings in it, protocol/search-charset.ts). An unknown charset:
 * `NO [BADCHARSET]` (RFC 3501 §6.4.4; Dovecot 2.3.19 lists none, Roost the two every client may use).
 * After ENABLE UTF8=ACCEPT, RFC 6855 §3 with erratum 4029: a charset other than UTF-8 conflicts with
 * the UTF-8 the client promised and is BAD. (The RFC asks SEARCH to name no charset at all; UTF-8 and
 * its subset US-ASCII are taken, since nothing conflicts.)
 */
export function searchCharsetError(charset: string | null, utf8Accept: boolean): CommandResult | null {
  if (utf8Accept && !isUtf8Charset(charset)) return badSyntax('Only UTF-8 can be used after ENABLE UTF8=ACCEPT');
  if (!isKnownCharset(charset)) return no('Unknown charset', BADCHARSET_CODE);
  return null;
}

/** `* SEARCH 1 2 3\r\n`, with ` (MODSEQ n)` when MODSEQ was searched and something matched. */
export function formatSearchResponse(numbers: readonly number[], highestModseq: number | null): string {
  let line = '* SEARCH';
  for (const n of numbers) line += ' ' + n;
  if (highestModseq !== null && numbers.length > 0) line += ` (MODSEQ ${highestModseq})`;
  return line + '\r\n';
}

/**
 * `* ESEARCH (TAG "tag") [UID] ...\r\n` for `SEARCH RETURN (...)`; `RETURN ()` means ALL. Returns
 * null when SAVE is the only option (RFC 5182 §2.4: no ESEARCH response then).
 */
export function formatEsearch(
  tag: string,
  uid: boolean,
  numbers: readonly number[],
  returnOptions: readonly SearchReturnOption[],
  highestModseq: number | null = null,
  modseqs?: readonly number[],
  partial: PartialRange | null = null,
): string | null {
  const opts = new Set(returnOptions.length === 0 ? ['ALL'] : returnOptions);
  if (opts.size === 1 && opts.has('SAVE')) return null;
  let line = `* ESEARCH (TAG "${tag.replace(/[\\"]/g, '\\$&')}")`;
  if (uid) line += ' UID';
  let modseq = highestModseq;
  if (numbers.length > 0) {
    let minAt = 0;
    let maxAt = 0;
    numbers.forEach((n, i) => {
      if (n < numbers[minAt]!) minAt = i;
      if (n > numbers[maxAt]!) maxAt = i;
    });
    if (opts.has('MIN')) line += ` MIN ${numbers[minAt]}`;
    if (opts.has('MAX')) line += ` MAX ${numbers[maxAt]}`;
    if (opts.has('ALL')) line += ` ALL ${formatNumberSet(numbers)}`;
    // RFC 7162 §3.2.5: with only MIN and/or MAX returned, MODSEQ is the highest of those messages.
    const onlyMinMax = !opts.has('ALL') && !opts.has('COUNT');
    if (modseq !== null && onlyMinMax && modseqs && modseqs.length === numbers.length) {
      modseq = Math.max(opts.has('MIN') ? modseqs[minAt]! : 0, opts.has('MAX') ? modseqs[maxAt]! : 0);
    }
  }
  if (partial) line += ` ${formatPartial(numbers, partial, formatNumberSet)}`;
  if (opts.has('COUNT')) line += ` COUNT ${numbers.length}`;
  if (modseq !== null && numbers.length > 0) line += ` MODSEQ ${modseq}`;
  return line + '\r\n';
}

/** RFC 5267 §4.4: `PARTIAL (m:n set)` of the results at positions m..n, `NIL` when there are none. */
export function formatPartial(numbers: readonly number[], range: PartialRange, format: (n: readonly number[]) => string): string {
  const slice = numbers.slice(range.from - 1, range.to);
  return `PARTIAL (${range.from}:${range.to} ${slice.length > 0 ? format(slice) : 'NIL'})`;
}
