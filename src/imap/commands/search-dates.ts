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

// RFC 5322 §4.3 obsolete zone names.
const ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

/**
 * The instant an RFC 5322 Date: value names, in ms since the epoch (UTC), or null if it does not
 * parse (SORT DATE, RFC 5256 §3: the caller falls back to the internal date). A missing or unknown
 * zone counts as UTC, seconds are optional.
 */
export function sentTimestamp(value: string): number | null {
  const m = /(?:^|[\s,])(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s+([+-]\d{4}|[A-Za-z]+))?/.exec(value);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const day = Number(m[1]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0;
  const zone = m[7];
  if (zone !== undefined) {
    if (/^[+-]\d{4}$/.test(zone)) {
      const sign = zone[0] === '-' ? -1 : 1;
      offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
    } else offset = ZONES[zone.toLowerCase()] ?? 0;
  }
  return Date.UTC(year, month, day, hour, minute, second) - offset * 60000;
}
