// CRAM-MD5 credentials: Dovecot stores the HMAC-MD5 (RFC 2104) outer then inner MD5 states after
// the padded key block, 32 bytes, hex ("context" format of RFC 2195 implementations, hmac-cram-md5.c).
import { createHash } from 'node:crypto';
import { MD5_INITIAL_STATE, bufferToState, md5Finish, md5ProcessBlocks, stateToBuffer } from './md5-state.js';
import { PasswordDataError, type PasswordScheme } from './types.js';

export const CRAM_MD5_CONTEXT_LENGTH = 32;

export function cramMd5Context(secret: Buffer): Buffer {
  const key = Buffer.alloc(64);
  (secret.length > 64 ? createHash('md5').update(secret).digest() : secret).copy(key);
  const ipad = Buffer.from(key.map((b) => b ^ 0x36));
  const opad = Buffer.from(key.map((b) => b ^ 0x5c));
  const inner = md5ProcessBlocks(MD5_INITIAL_STATE, ipad);
  const outer = md5ProcessBlocks(MD5_INITIAL_STATE, opad);
  return Buffer.concat([stateToBuffer(outer), stateToBuffer(inner)]);
}

/** HMAC-MD5(secret, challenge) computed from stored context (no plaintext needed). */
export function hmacMd5FromContext(context: Buffer, challenge: Buffer): Buffer {
  if (context.length !== CRAM_MD5_CONTEXT_LENGTH) throw new PasswordDataError('Invalid CRAM-MD5 context');
  const innerDigest = md5Finish(bufferToState(context, 16), 64, challenge);
  return md5Finish(bufferToState(context, 0), 64, innerDigest);
}

export const cramMd5Scheme: PasswordScheme = {
  name: 'CRAM-MD5',
  encoding: 'hex',
  rawLength: CRAM_MD5_CONTEXT_LENGTH,
  generate: async (plain) => cramMd5Context(plain),
};
