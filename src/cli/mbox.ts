// Reading an mbox file (RFC 4155): messages start at `From ` lines after a blank line (or at the
// start); `>From ` quoting is undone one level (mboxrd). The internal date is the From_ line's
// asctime date. Flags come from the Status / X-Status / X-Keywords headers Dovecot and mutt write
// (Dovecot src/lib-storage/index/mbox/mbox-sync-parse.c): Status R = \Seen, X-Status A = \Answered,
// F = \Flagged, T = \Draft, D = \Deleted. Those headers are left in the message, as Dovecot reads them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';

export interface MboxMessage {
  content: Buffer;
  flags: string[];
  internalDate: Date;
  /** A stable id for the message (hash of its bytes and From_ line), so a second import skips it. */
  guid: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `From sender Thu Feb  1 09:30:00 2024` → the date (UTC; a trailing zone like +0100 is applied). */
export function parseFromLineDate(line: string): Date | undefined {
  const m = /([A-Z][a-z]{2}) +(\d{1,2}) (\d{1,2}):(\d{2})(?::(\d{2}))? (?:([+-]\d{4}) )?(\d{4})(?: ([+-]\d{4}))?\s*$/.exec(line);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return undefined;
  const zone = m[6] ?? m[8];
  let t = Date.UTC(Number(m[7]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0));
  if (zone) t -= (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) * 60_000;
  return new Date(t);
}

function headerValue(head: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m ? m[1]!.replace(/\r?\n[ \t]/g, ' ').trim() : undefined;
}

export function readMbox(path: string): MboxMessage[] {
  const data = readFileSync(path);
  if (data.length && !data.subarray(0, 5).equals(Buffer.from('From '))) throw new UsageError(`${path} is not an mbox file (no From_ line first)`, 65);
  const text = data.toString('latin1'); // byte-preserving: split on ASCII, convert back exactly
  const starts: number[] = [];
  const re = /(^|\n)From /g;
  for (let m; (m = re.exec(text)); ) {
    const at = m.index + m[1]!.length;
    if (at === 0 || text.slice(Math.max(0, at - 2), at) === '\n\n' || text.slice(Math.max(0, at - 3), at) === '\n\r\n') starts.push(at);
  }
  const out: MboxMessage[] = [];
  starts.forEach((start, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]! : text.length;
    const fromEnd = text.indexOf('\n', start);
    const fromLine = text.slice(start, fromEnd < 0 ? end : fromEnd).replace(/\r$/, '');
    let body = text.slice(fromEnd + 1, end);
    // The blank line before the next From_ belongs to the mbox, not to the message.
    if (i + 1 < starts.length) body = body.replace(/\r?\n$/, '');
    body = body.replace(/^>(>*From )/gm, '$1');
    const head = body.split(/\r?\n\r?\n/, 1)[0] ?? '';
    const flags: string[] = [];
    const status = headerValue(head, 'Status') ?? '';
    const xstatus = headerValue(head, 'X-Status') ?? '';
    if (status.includes('R')) flags.push('\\Seen');
    if (xstatus.includes('A')) flags.push('\\Answered');
    if (xstatus.includes('F')) flags.push('\\Flagged');
    if (xstatus.includes('T')) flags.push('\\Draft');
    if (xstatus.includes('D')) flags.push('\\Deleted');
    for (const k of (headerValue(head, 'X-Keywords') ?? '').split(/[\s,]+/)) if (k) flags.push(k);
    const content = Buffer.from(body, 'latin1');
    const guid = createHash('sha1').update(fromLine).update(content).digest('hex');
    out.push({ content, flags, internalDate: parseFromLineDate(fromLine) ?? new Date(), guid });
  });
  return out;
}
