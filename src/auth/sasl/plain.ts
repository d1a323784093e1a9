// PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. A non-empty authzid different from authcid
// is a master-user login (Dovecot mech-plain.c).
import type { SaslContext, SaslMechanism, SaslStep } from './mechanism.js';
import { saslFailure } from './mechanism.js';

export function plainMechanism(ctx: SaslContext): SaslMechanism {
  return {
    name: 'PLAIN',
    async step(resp): Promise<SaslStep> {
      if (resp === null) return { challenge: Buffer.alloc(0) };
      const parts = resp.toString('utf8').split('\0');
      if (parts.length !== 3) return saslFailure('Invalid input', 'mismatch');
      const [authzid = '', user = '', password = ''] = parts;
      if (user === '') return saslFailure('Invalid input', 'mismatch');
      return {
        done: await ctx.auth.authenticatePlain({ ...ctx.info, mech: 'PLAIN', user, password, authzid: authzid || undefined }),
      };
    },
  };
}
