// CRAM-MD5 (RFC 2195): challenge `<random.time@hostname>`, response `user SP hex(HMAC-MD5)`.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import { hmacMd5FromContext } from '../schemes/cram-md5.js';
import type { SaslContext, SaslMechanism, SaslStep } from './mechanism.js';
import { saslFailure } from './mechanism.js';

export function cramMd5Mechanism(ctx: SaslContext, challengeText?: string): SaslMechanism {
  const challenge = Buffer.from(challengeText ?? `<${randomBytes(8).readBigUInt64BE()}.${Math.floor(Date.now() / 1000)}@${hostname()}>`);
  let sent = false;
  return {
    name: 'CRAM-MD5',
    async step(resp): Promise<SaslStep> {
      if (!sent) {
        sent = true;
        return { challenge };
      }
      const text = (resp ?? Buffer.alloc(0)).toString('utf8');
      const space = text.lastIndexOf(' ');
      const user = text.slice(0, space);
      const hex = text.slice(space + 1);
      if (space <= 0 || !/^[0-9a-fA-F]{32}$/.test(hex)) return saslFailure('Invalid input');
      const lookup = await ctx.auth.lookupCredentials({ ...ctx.info, mech: 'CRAM-MD5', user, scheme: 'CRAM-MD5' });
      if (!lookup.ok) return { done: lookup };
      const expected = hmacMd5FromContext(lookup.credentials, challenge);
      return { done: await lookup.complete(timingSafeEqual(expected, Buffer.from(hex, 'hex'))) };
    },
  };
}
