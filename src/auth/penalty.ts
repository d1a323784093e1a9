// Brute-force protection as Dovecot's auth-penalty.c + anvil's penalty.c: each failed login from an
// IP raises its penalty (max 4); the next request from that IP waits 2·2^penalty seconds (capped
// at 15 s) before it is processed. The penalty decays when the IP stays quiet, is cleared by a
// successful login, and is not raised again when the same user+password is retried (a client
// re-sending stored credentials is not guessing). IPv6 addresses count per /48 so one host
// cannot flood the table; the table is an LRU of bounded size.
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';

export const AUTH_PENALTY_INIT_SECS = 2;
export const AUTH_PENALTY_MAX_SECS = 15;
export const AUTH_PENALTY_MAX_PENALTY = 4;
/** How long a penalty stays relevant (Dovecot AUTH_PENALTY_TIMEOUT: 2 + 4 + 8 + 15 s). */
export const AUTH_PENALTY_TIMEOUT_SECS = AUTH_PENALTY_INIT_SECS + 4 + 8 + AUTH_PENALTY_MAX_SECS;
const CHECKSUMS_KEPT = 10;

export function penaltyToSecs(penalty: number): number {
  return Math.min(AUTH_PENALTY_INIT_SECS * 2 ** penalty, AUTH_PENALTY_MAX_SECS);
}

/** The penalty key: the IPv4 address, or the IPv6 address masked to /48. */
export function penaltyIdent(ip: string): string | undefined {
  if (!ip) return undefined;
  if (!isIPv6(ip)) return ip;
  const groups = expandIPv6(ip);
  return groups ? `${groups.slice(0, 3).join(':')}::/48` : ip;
}

function expandIPv6(ip: string): string[] | undefined {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (t.length && t[t.length - 1]!.includes('.')) return undefined; // IPv4-mapped: keep whole
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16));
}

interface PenaltyRecord {
  penalty: number;
  /** When the penalty was last raised (ms). */
  lastPenalty: number;
  checksums: string[];
}

export interface AuthPenaltyOptions {
  /** Maximum number of tracked IPs / networks; the least recently used is dropped. */
  maxEntries?: number;
  now?: () => number;
}

export class AuthPenalty {
  private readonly entries = new Map<string, PenaltyRecord>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: AuthPenaltyOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Current penalty after decay (auth_penalty_anvil_callback): one step dropped per elapsed window. */
  lookup(ip: string): number {
    const ident = penaltyIdent(ip);
    const rec = ident ? this.entries.get(ident) : undefined;
    if (!rec) return 0;
    if (this.now() - rec.lastPenalty > AUTH_PENALTY_TIMEOUT_SECS * 1000) {
      this.entries.delete(ident!);
      return 0;
    }
    const elapsedSecs = Math.max(0, this.now() - rec.lastPenalty) / 1000;
    let penalty = rec.penalty;
    let drop = AUTH_PENALTY_MAX_PENALTY;
    while (penalty > 0 && elapsedSecs >= penaltyToSecs(drop)) {
      drop--;
      penalty--;
    }
    return penalty;
  }

  /** Milliseconds the next request from this IP waits before being processed. */
  delayMs(ip: string): number {
    const penalty = this.lookup(ip);
    return penalty === 0 ? 0 : penaltyToSecs(penalty) * 1000;
  }

  /** A failed login: raise the penalty unless this exact user+password was already counted. */
  failure(ip: string, user: string, password: string | undefined): void {
    const ident = penaltyIdent(ip);
    if (!ident) return;
    const current = this.lookup(ip);
    const rec = this.entries.get(ident) ?? { penalty: 0, lastPenalty: 0, checksums: [] };
    const checksum = password === undefined ? '' : createHash('sha256').update(user).update('\0').update(password).digest('base64');
    const repeated = checksum !== '' && rec.checksums.includes(checksum);
    rec.penalty = repeated ? current : Math.min(current + 1, AUTH_PENALTY_MAX_PENALTY);
    rec.lastPenalty = this.now();
    if (!repeated && checksum) rec.checksums = [checksum, ...rec.checksums].slice(0, CHECKSUMS_KEPT);
    this.entries.delete(ident); // re-insert: Map order is the LRU order
    this.entries.set(ident, rec);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** A successful login clears the IP's penalty. */
  success(ip: string): void {
    const ident = penaltyIdent(ip);
    if (ident) this.entries.delete(ident);
  }
}
