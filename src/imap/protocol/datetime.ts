// IMAP dates (RFC 3501 §9 date, date-time). Formatting matches Dovecot's imap-date.c: a two-digit
// day with leading zero, e.g. `"05-Nov-2026 22:10:40 +0000"`.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A calendar date without time (SEARCH BEFORE/ON/SINCE compare dates only). */
export interface ImapDate {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function monthIndex(name: string): number {
  return MONTHS.findIndex((m) => m.toLowerCase() === name.toLowerCase());
}

function validDay(year: number, month: number, day: number): boolean {
  if (day < 1 || month < 1 || month > 12) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** RFC 3501 §9 date-text `d-Mon-yyyy` / `dd-Mon-yyyy` (a leading space allowed like date-day-fixed). */
export function parseImapDate(text: string): ImapDate | null {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (!m) return null;
  const month = monthIndex(m[2]!) + 1;
  const day = Number(m[1]);
  const year = Number(m[3]);
  if (month === 0 || !validDay(year, month, day)) return null;
  return { year, month, day };
}

export interface ImapDateTime {
  date: Date;
  /** The zone the client wrote, in minutes east of UTC (kept for INTERNALDATE echo). */
  timezoneOffsetMinutes: number;
}

/** RFC 3501 §9 date-time: `dd-Mon-yyyy hh:mm:ss +zzzz` (day may be ` d`), without the quotes. */
export function parseImapDateTime(text: string): ImapDateTime | null {
  const m = /^( \d|\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return null;
  const day = Number(m[1]!.trim());
  const month = monthIndex(m[2]!) + 1;
  const year = Number(m[3]);
  const [hh, mm, ss, zh, zm] = [m[4], m[5], m[6], m[8], m[9]].map(Number) as [number, number, number, number, number];
  if (month === 0 || !validDay(year, month, day) || hh > 23 || mm > 59 || ss > 60 || zm > 59) return null;
  const offset = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const utc = Date.UTC(year, month - 1, day, hh, mm, ss) - offset * 60_000;
  return { date: new Date(utc), timezoneOffsetMinutes: offset };
}

/** `dd-Mon-yyyy hh:mm:ss +zzzz` for INTERNALDATE, in the given zone (default UTC). No quotes. */
export function formatImapDateTime(date: Date, timezoneOffsetMinutes = 0): string {
  const local = new Date(date.getTime() + timezoneOffsetMinutes * 60_000);
  const sign = timezoneOffsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(timezoneOffsetMinutes);
  return (
    `${pad2(local.getUTCDate())}-${MONTHS[local.getUTCMonth()]}-${String(local.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** `dd-Mon-yyyy`. */
export function formatImapDate(d: ImapDate): string {
  return `${pad2(d.day)}-${MONTHS[d.month - 1]}-${String(d.year).padStart(4, '0')}`;
}

/** Orders two dates: negative, zero or positive. */
export function compareImapDates(a: ImapDate, b: ImapDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}
