// SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), without channel binding (the -PLUS
// variants are not offered, so a client's `p=` flag is refused as in Dovecot mech-scram.c).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseScramCredentials, type ScramHash } from '../schemes/scram.js';
import type { AuthResult } from '../service.js';
import type { SaslContext, SaslMechanism, SaslStep } from './mechanism.js';
import { saslFailure } from './mechanism.js';

export interface ScramOptions {
  /** Test hook: the server's part of the nonce (RFC examples). */
  serverNonce?: string;
}

/** RFC 5802 §5.1 saslname: `=2C` is ',' and `=3D` is '='; any other '=' is invalid. */
function decodeSaslName(s: string): string | undefined {
  if (/=(?!2C|3D)/.test(s)) return undefined;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function attributes(msg: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of msg.split(',')) if (part.length >= 2 && part[1] === '=') m.set(part[0]!, part.slice(2));
  return m;
}

export function scramMechanism(ctx: SaslContext, hash: ScramHash, opts: ScramOptions = {}): SaslMechanism {
  const name = hash === 'sha1' ? 'SCRAM-SHA-1' : 'SCRAM-SHA-256';
  let state: 'first' | 'final' | 'verified' | 'done' = 'first';
  let gs2Header = '';
  let clientFirstBare = '';
  let serverFirst = '';
  let nonce = '';
  let storedKey: Buffer = Buffer.alloc(0);
  let serverKey: Buffer = Buffer.alloc(0);
  let complete: ((ok: boolean) => Promise<AuthResult>) | undefined;

  return {
    name,
    async step(resp): Promise<SaslStep> {
      if (state === 'first') {
        if (resp === null) return { challenge: Buffer.alloc(0) };
        const text = resp.toString('utf8');
        const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/.exec(text);
        if (!m) return saslFailure('Invalid initial client message');
        if (m[1]!.startsWith('p=')) return saslFailure('Channel binding not supported');
        gs2Header = `${m[1]},${m[2] ?? ''},`;
        clientFirstBare = m[3]!;
        const attrs = attributes(clientFirstBare);
        const user = decodeSaslName(attrs.get('n') ?? '');
        const authzid = m[2] ? decodeSaslName(m[2].slice(2)) : undefined;
        const clientNonce = attrs.get('r');
        if (!user || !clientNonce || (m[2] && authzid === undefined)) return saslFailure('Invalid initial client message');
        const lookup = await ctx.auth.lookupCredentials({ ...ctx.info, mech: name, user, authzid: authzid || undefined, scheme: name });
        if (!lookup.ok) return { done: lookup };
        let creds;
        try {
          creds = parseScramCredentials(name, hash, lookup.credentials.toString('latin1'));
        } catch (err) {
          return { done: { ok: false, reason: 'tempfail', message: (err as Error).message } };
        }
        storedKey = creds.storedKey;
        serverKey = creds.serverKey;
        complete = lookup.complete;
        nonce = clientNonce + (opts.serverNonce ?? randomBytes(18).toString('base64'));
        serverFirst = `r=${nonce},s=${creds.salt.toString('base64')},i=${creds.iterations}`;
        state = 'final';
        return { challenge: Buffer.from(serverFirst) };
      }
      if (state === 'final') {
        state = 'done';
        const text = (resp ?? Buffer.alloc(0)).toString('utf8');
        const proofAt = text.lastIndexOf(',p=');
        const attrs = attributes(text);
        if (proofAt < 0 || attrs.get('c') !== Buffer.from(gs2Header).toString('base64') || attrs.get('r') !== nonce) {
          return { done: await complete!(false) };
        }
        const withoutProof = text.slice(0, proofAt);
        const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
        const proof = Buffer.from(attrs.get('p') ?? '', 'base64');
        const signature = createHmac(hash, storedKey).update(authMessage).digest();
        if (proof.length !== signature.length) return { done: await complete!(false) };
        const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
        if (!timingSafeEqual(createHash(hash).update(clientKey).digest(), storedKey)) return { done: await complete!(false) };
        state = 'verified';
        const v = createHmac(hash, serverKey).update(authMessage).digest('base64');
        return { challenge: Buffer.from(`v=${v}`) };
      }
      if (state === 'verified') {
        // The client acknowledges server-final with an empty response (RFC 5802 §5, IMAP).
        state = 'done';
        return { done: await complete!(true) };
      }
      return saslFailure('Unexpected response');
    },
  };
}
