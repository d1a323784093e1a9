// Traditional DES crypt(3) (Seventh Edition Unix): the first 8 password characters (7 bits each)
// are the key, a 12-bit salt perturbs the E expansion, a zero block is encrypted 25 times.
// Verify-only: kept so old `{CRYPT}` / `{DES-CRYPT}` entries migrated from Dovecot still log in.
// Bit-per-array-element, written for clarity rather than speed (25 × 16 rounds, well under 1 ms).
import { CRYPT_ALPHABET } from './crypt-alphabet.js';

export const DES_CRYPT_RE = /^[./0-9A-Za-z]{13}$/;

const IP = [58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7];
const FP = [40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
  36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27, 34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25];
const PC1_C = [57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36];
const PC1_D = [63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4];
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
const PC2_C = [14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2];
const PC2_D = [41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32];
const E = [32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
  16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1];
const P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25];
const SBOX = [
  [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
    4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
  [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
    0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
  [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
    13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
  [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
    10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
  [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
    4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
  [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
    9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
  [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
    1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
  [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
    7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];

function keySchedule(key: number[]): number[][] {
  const c = PC1_C.map((p) => key[p - 1]!);
  const d = PC1_D.map((p) => key[p - 1]!);
  const ks: number[][] = [];
  for (const shift of SHIFTS) {
    for (let s = 0; s < shift; s++) {
      c.push(c.shift()!);
      d.push(d.shift()!);
    }
    ks.push([...PC2_C.map((p) => c[p - 1]!), ...PC2_D.map((p) => d[p - 29]!)]);
  }
  return ks;
}

function encryptBlock(block: number[], ks: number[][], e: number[]): number[] {
  const lr = IP.map((p) => block[p - 1]!);
  let l = lr.slice(0, 32);
  let r = lr.slice(32);
  for (const k of ks) {
    const pre = e.map((p, j) => r[p - 1]! ^ k[j]!);
    const f: number[] = [];
    for (let j = 0; j < 8; j++) {
      const t = 6 * j;
      const row = (pre[t]! << 1) | pre[t + 5]!;
      const col = (pre[t + 1]! << 3) | (pre[t + 2]! << 2) | (pre[t + 3]! << 1) | pre[t + 4]!;
      const v = SBOX[j]![row * 16 + col]!;
      f.push((v >> 3) & 1, (v >> 2) & 1, (v >> 1) & 1, v & 1);
    }
    const newR = P.map((p, j) => l[j]! ^ f[p - 1]!);
    l = r;
    r = newR;
  }
  const rl = [...r, ...l];
  return FP.map((p) => rl[p - 1]!);
}

/** crypt(password, setting) for a 2-character-salt setting; returns the 13-character result. */
export function desCrypt(password: Buffer, setting: string): string {
  const key: number[] = new Array(64).fill(0);
  for (let i = 0; i < 8 && i < password.length; i++) {
    for (let j = 0; j < 7; j++) key[8 * i + j] = (password[i]! >> (6 - j)) & 1;
  }
  const e = [...E];
  const salt = setting.slice(0, 2);
  for (let i = 0; i < 2; i++) {
    const v = Math.max(0, CRYPT_ALPHABET.indexOf(salt[i] ?? '.'));
    for (let j = 0; j < 6; j++) {
      if ((v >> j) & 1) [e[6 * i + j], e[6 * i + j + 24]] = [e[6 * i + j + 24]!, e[6 * i + j]!];
    }
  }
  const ks = keySchedule(key);
  let block: number[] = new Array(64).fill(0);
  for (let i = 0; i < 25; i++) block = encryptBlock(block, ks, e);
  block.push(0, 0);
  let out = salt;
  for (let i = 0; i < 11; i++) {
    let c = 0;
    for (let j = 0; j < 6; j++) c = (c << 1) | block[6 * i + j]!;
    out += CRYPT_ALPHABET[c];
  }
  return out;
}
