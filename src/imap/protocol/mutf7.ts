// Modified UTF-7 mailbox names (RFC 3501 §5.1.3): printable US-ASCII stands for itself (`&` as
// `&-`), everything else is UTF-16BE in modified BASE64 (`,` for `/`, no padding) between `&`
// and `-`.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_VALUE = new Map([...B64].map((ch, i) => [ch, i]));

export const INVALID_MUTF7 = 'Mailbox name is not valid mUTF-7';

const isPrintable = (code: number) => code >= 0x20 && code <= 0x7e;

export function encodeMailboxName(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes: number[] = [];
    for (const unit of pending) bytes.push(unit >> 8, unit & 0xff);
    let bits = 0;
    let value = 0;
    out += '&';
    for (const b of bytes) {
      value = (value << 8) | b;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += B64[(value >> bits) & 0x3f];
      }
    }
    if (bits > 0) out += B64[(value << (6 - bits)) & 0x3f];
    out += '-';
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (isPrintable(unit)) {
      flush();
      out += unit === 0x26 ? '&-' : name[i];
    } else {
      pending.push(unit);
    }
  }
  flush();
  return out;
}

/** Decodes a client's mUTF-7 name; null when it is not valid (Dovecot replies "not valid mUTF-7"). */
export function decodeMailboxName(wire: string): string | null {
  let out = '';
  for (let i = 0; i < wire.length; ) {
    const ch = wire.charCodeAt(i);
    if (!isPrintable(ch)) return null;
    if (ch !== 0x26) {
      out += wire[i];
      i++;
      continue;
    }
    const end = wire.indexOf('-', i + 1);
    if (end < 0) return null;
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    const decoded = decodeRun(wire.slice(i + 1, end));
    if (decoded === null) return null;
    out += decoded;
    i = end + 1;
    // RFC 3501 §5.1.3: adjacent encoded runs must be one run.
    if (wire[i] === '&' && wire[i + 1] !== '-') return null;
  }
  return out;
}

function decodeRun(run: string): string | null {
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const ch of run) {
    const v = B64_VALUE.get(ch);
    if (v === undefined) return null;
    value = ((value << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero padding and fewer than a full 16-bit unit's worth.
  if (bits >= 6 || (value & ((1 << bits) - 1)) !== 0) return null;
  if (bytes.length === 0 || bytes.length % 2 !== 0) return null;
  let out = '';
  for (let k = 0; k < bytes.length; k += 2) {
    const unit = (bytes[k]! << 8) | bytes[k + 1]!;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = k + 3 < bytes.length ? (bytes[k + 2]! << 8) | bytes[k + 3]! : -1;
      if (low < 0xdc00 || low > 0xdfff) return null;
      out += String.fromCharCode(unit, low);
      k += 2;
      continue;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) return null;
    // Printable ASCII must not be encoded (RFC 3501 §5.1.3 "MUST" represent itself).
    if (isPrintable(unit)) return null;
    out += String.fromCharCode(unit);
  }
  return out;
}
