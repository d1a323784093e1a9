// Messages between a thread that needs a password hashed or verified and the hash helper thread
// (hash-worker.ts). Slow schemes (ARGON2*, BLF-CRYPT, bcrypt CRYPT) run there so that a 0.4 s
// argon2 verify never blocks the network thread; Lua's req:password_verify uses it synchronously.
import type { SchemeContext } from './types.js';

export interface VerifyJob extends SchemeContext {
  id: number;
  op: 'verify';
  plain: Uint8Array;
  stored: string;
  defaultScheme?: string;
}

export interface HashJob extends SchemeContext {
  id: number;
  op: 'hash';
  plain: Uint8Array;
  scheme: string;
}

export type HashWorkerRequest = VerifyJob | HashJob;

export type HashWorkerReply =
  | { id: number; op: 'verify'; result: { ok: boolean } | { error: string; unknownScheme?: boolean } }
  | { id: number; op: 'hash'; hashed: string }
  | { id: number; op: 'error'; message: string };
