// A minimal MD5 (RFC 1321) whose internal state can be exported and resumed. node:crypto does not
// expose intermediate digests, but Dovecot's CRAM-MD5 credentials are exactly the HMAC-MD5 inner
// and outer states after one 64-byte block (RFC 2195 §2 "context").

const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

export type Md5State = [number, number, number, number];
export const MD5_INITIAL_STATE: Md5State = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

function compress(state: Md5State, block: Buffer, offset: number): void {
  let [a, b, c, d] = state;
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    const round = i >> 4;
    if (round === 0) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (round === 1) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
    } else if (round === 2) {
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
    }
    const sum = (a + f + K[i]! + block.readUInt32LE(offset + g * 4)) >>> 0;
    const s = S[(round << 2) | (i & 3)]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
  }
  state[0] = (state[0] + a) >>> 0;
  state[1] = (state[1] + b) >>> 0;
  state[2] = (state[2] + c) >>> 0;
  state[3] = (state[3] + d) >>> 0;
}

/** Processes whole 64-byte blocks; `data.length` must be a multiple of 64. */
export function md5ProcessBlocks(state: Md5State, data: Buffer): Md5State {
  const next: Md5State = [...state];
  for (let off = 0; off < data.length; off += 64) compress(next, data, off);
  return next;
}

/** Finishes an MD5 that has already consumed `priorLength` bytes into `state`. */
export function md5Finish(state: Md5State, priorLength: number, tail: Buffer): Buffer {
  const total = priorLength + tail.length;
  const padLen = (tail.length % 64 < 56 ? 56 : 120) - (tail.length % 64);
  const msg = Buffer.alloc(tail.length + padLen + 8);
  tail.copy(msg);
  msg[tail.length] = 0x80;
  msg.writeUInt32LE((total * 8) >>> 0, msg.length - 8);
  msg.writeUInt32LE(Math.floor((total * 8) / 2 ** 32), msg.length - 4);
  const s = md5ProcessBlocks(state, msg);
  const out = Buffer.alloc(16);
  s.forEach((w, i) => out.writeUInt32LE(w, i * 4));
  return out;
}

export function stateToBuffer(s: Md5State): Buffer {
  const out = Buffer.alloc(16);
  s.forEach((w, i) => out.writeUInt32LE(w, i * 4));
  return out;
}

export function bufferToState(b: Buffer, offset: number): Md5State {
  return [b.readUInt32LE(offset), b.readUInt32LE(offset + 4), b.readUInt32LE(offset + 8), b.readUInt32LE(offset + 12)];
}
