// Dovecot's value syntax for sizes, times and booleans (lib-settings/settings-parser.c, 2.3).
import { ValueError } from './errors.js';

const SIZE_UNITS: Record<string, number> = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Parses a size: a number with an optional unit B, k, M, G, T (case-insensitive, optionally
 * followed by `i` and/or `B`: `10k`, `10 kB`, `10KiB`, `50M`). Returns bytes.
 */
export function parseSize(text: string): number {
  const m = /^(\d+) *(?:([bkmgt])(i?b)?)?$/i.exec(text.trim());
  if (!m) throw new ValueError(`Invalid size: ${text}`);
  const unit = m[2]?.toUpperCase();
  // "b" alone is bytes; "bb"/"bib" are not units.
  if (unit === 'B' && m[3]) throw new ValueError(`Invalid size: ${text}`);
  const bytes = Number(m[1]) * (unit ? SIZE_UNITS[unit]! : 1);
  if (!Number.isSafeInteger(bytes)) throw new ValueError(`Invalid size: ${text}`);
  return bytes;
}

/** Formats bytes the way an operator would write them (`64k`, `50M`), exact. */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes !== 0 && bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}

// Each unit accepts any prefix of its long names ("m", "mi", "min", "mins", "minute"), as Dovecot
// does; "m" alone is minutes, "ms" milliseconds.
const TIME_UNITS: { names: string[]; ms: number }[] = [
  { names: ['msecs', 'mseconds', 'millisecs', 'milliseconds'], ms: 1 },
  { names: ['secs', 'seconds'], ms: 1000 },
  { names: ['mins', 'minutes'], ms: 60_000 },
  { names: ['hours'], ms: 3_600_000 },
  { names: ['days'], ms: 86_400_000 },
  { names: ['weeks'], ms: 7 * 86_400_000 },
];

/**
 * Parses a time interval (`30s`, `5 mins`, `250ms`, `2 hours`, `1d`, `1w`). A bare number means
 * seconds (Dovecot 2.3). Returns milliseconds.
 */
export function parseTime(text: string): number {
  const m = /^(\d+) *([a-z]*)$/i.exec(text.trim());
  if (!m) throw new ValueError(`Invalid time interval: ${text}`);
  const num = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  if (unit === '') return num * 1000;
  // "m" must mean minutes, so minutes are tried before milliseconds for one-letter units.
  const order = unit.length === 1 ? [2, 0, 1, 3, 4, 5] : [0, 1, 2, 3, 4, 5];
  for (const i of order) {
    const u = TIME_UNITS[i]!;
    if (u.names.some((n) => n.startsWith(unit))) return num * u.ms;
  }
  throw new ValueError(`Invalid time interval: ${text}`);
}

/** Formats milliseconds with the largest exact unit (`30 secs`, `5 mins`, `250 ms`). */
export function formatTime(ms: number): string {
  if (ms === 0) return '0';
  const units: [number, string][] = [[604_800_000, 'weeks'], [86_400_000, 'days'], [3_600_000, 'hours'], [60_000, 'mins'], [1000, 'secs']];
  for (const [mult, name] of units) if (ms % mult === 0) return `${ms / mult} ${name}`;
  return `${ms} ms`;
}

/** Parses yes/no (Dovecot also takes the case-insensitive forms). */
export function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === 'yes') return true;
  if (t === 'no') return false;
  throw new ValueError(`Invalid boolean value: ${text} (use yes or no)`);
}

/** Parses an unsigned decimal integer. */
export function parseUint(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new ValueError(`Invalid number: ${text}`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) throw new ValueError(`Invalid number: ${text}`);
  return n;
}

/** Parses a TCP port (0 disables a listener, as in Dovecot). */
export function parsePort(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) > 65535) throw new ValueError(`Invalid port number ${text}`);
  return Number(t);
}

/** Parses a file mode such as `0600` (octal). */
export function parseOctal(text: string): number {
  if (!/^[0-7]+$/.test(text.trim())) throw new ValueError(`Invalid file mode: ${text}`);
  return parseInt(text.trim(), 8);
}
