// Dates for SEARCH BEFORE/ON/SINCE and SENT*: RFC 3501 §6.4.4 compares dates "disregarding time
// and timezone". Like Dovecot (index-search.c): the internal date is taken in the server's time
// zone, the Date: header in the sender's own zone, i.e. the day written in the header.
import type { ImapDate } from '../protocol/datetime.js';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Calendar day of an internal date in the server's time zone, as a comparable number yyyymmdd. */
export function localDayNumber(date: Date): number {
  return date.getFullYear() * 10000 + (date.getMonth() + 1) * 100 + date.getDate();
}

export function imapDayNumber(d: ImapDate): number {
  return d.year * 10000 + d.month * 100 + d.day;
}

/**
 * The calendar day an RFC 5322 Date: value names (`[Mon, ]3 Mar 2025 10:15:00 +0100`), or null if
 * it does not parse. Two-digit years follow RFC 5322 §4.3 (< 50 → 20xx).
 */
export function sentDayNumber(value: string): number | null {
  const m = /(?:^|[\s,])(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\b/.exec(value);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase()) + 1;
  if (month === 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const day = Number(m[1]);
  if (day < 1 || day > 31) return null;
  return year * 10000 + month * 100 + day;
}
