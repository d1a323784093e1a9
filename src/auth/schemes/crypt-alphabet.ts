// The "./0-9A-Za-z" base64 variant of crypt(3), least significant 6 bits first.
export const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Encodes bytes given as [b2, b1, b0] groups (the order each crypt variant prescribes). */
export function cryptB64Groups(bytes: Uint8Array, groups: ReadonlyArray<readonly number[]>): string {
  let out = '';
  for (const g of groups) {
    let w = 0;
    for (const idx of g) w = (w << 8) | bytes[idx]!;
    // A group of 1 byte yields 2 chars, 2 bytes 3 chars, 3 bytes 4 chars.
    const chars = g.length + 1;
    for (let i = 0; i < chars; i++) {
      out += CRYPT_ALPHABET[w & 0x3f];
      w >>>= 6;
    }
  }
  return out;
}

export function randomCryptSalt(length: number, random: Buffer): string {
  let s = '';
  for (let i = 0; i < length; i++) s += CRYPT_ALPHABET[random[i]! & 0x3f];
  return s;
}
