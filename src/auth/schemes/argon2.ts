// ARGON2I / ARGON2ID: PHC strings as libsodium's crypto_pwhash_str writes them
// (`$argon2id$v=19$m=65536,t=3,p=1$<salt b64>$<hash b64>`, unpadded base64), which is what Dovecot
// stores. Defaults match Dovecot 2.3 on Debian (doveadm pw): argon2i m=32768 t=4, argon2id m=65536 t=3.
import { randomBytes } from 'node:crypto';
import { argon2Verify, argon2i, argon2id } from 'hash-wasm';
import { PasswordDataError, type PasswordScheme } from './types.js';

const PHC_RE = /^\$(argon2i|argon2id)\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

type Variant = 'argon2i' | 'argon2id';
const DEFAULTS: Record<Variant, { memoryKiB: number; iterations: number }> = {
  argon2i: { memoryKiB: 32768, iterations: 4 },
  argon2id: { memoryKiB: 65536, iterations: 3 },
};

export interface Argon2Options {
  memoryKiB?: number;
  iterations?: number;
}

export async function argon2Hash(variant: Variant, plain: Buffer, opts: Argon2Options = {}): Promise<string> {
  const params = {
    password: plain,
    salt: randomBytes(16),
    parallelism: 1,
    iterations: opts.iterations ?? DEFAULTS[variant].iterations,
    memorySize: opts.memoryKiB ?? DEFAULTS[variant].memoryKiB,
    hashLength: 32,
    outputType: 'encoded' as const,
  };
  return variant === 'argon2i' ? argon2i(params) : argon2id(params);
}

export function argon2Scheme(name: string, variant: Variant): PasswordScheme {
  return {
    name,
    encoding: 'none',
    rawLength: 0,
    offThread: true,
    generate: async (plain, ctx) => Buffer.from(await argon2Hash(variant, plain, { iterations: ctx.rounds, memoryKiB: ctx.memoryKiB })),
    verify: async (plain, raw) => {
      const stored = raw.toString('latin1');
      const m = PHC_RE.exec(stored);
      // libsodium verifies any argon2 variant regardless of the {SCHEME} prefix; so do we.
      if (!m) throw new PasswordDataError('Invalid Argon2 PHC string');
      return argon2Verify({ password: plain, hash: stored });
    },
  };
}
