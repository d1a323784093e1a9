import { randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A mail session id in Dovecot's shape (LMTP, CLI): 16 bytes, base64 without padding (22 characters),
 * e.g. `FILjLaBNB2sRRgAAg+zDdQ`. Dovecot mixes time and pid into it; random bytes serve the
 * same purpose here (unique per session, safe to log).
 */
export function newSessionId(): string {
  return randomBytes(16).toString('base64').replace(/=+$/, '');
}

/**
 * An IMAP session id in Dovecot's shape (login-common/client-common.c, client_get_session_id):
 * the lowest 48 bits of the time in microseconds, the client's port (2 bytes, little endian) and
 * its address, base64 without padding: 16 characters for an IPv4 client, 32 for IPv6.
 */
export function newLoginSessionId(remoteIp: string, remotePort: number, nowMicros = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000))): string {
  const time = Buffer.alloc(8);
  time.writeBigUInt64LE(nowMicros & 0xffffffffffffn);
  const port = Buffer.from([remotePort & 0xff, (remotePort >> 8) & 0xff]);
  return Buffer.concat([time.subarray(0, 6), port, ipBytes(remoteIp)]).toString('base64').replace(/=+$/, '');
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) return Buffer.alloc(4);
  // Expand `::` and an embedded IPv4 tail to eight 16-bit groups.
  const [head, tail = ''] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parse = (part: string | undefined): number[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => {
      if (isIPv4(g)) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        return [(a << 8) | b, (c << 8) | d];
      }
      return [parseInt(g, 16)];
    });
  };
  const h = parse(head);
  const t = parse(tail);
  const groups = ip.includes('::') ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
