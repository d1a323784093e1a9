// LOGIN (draft-murchison-sasl-login): challenges "Username:" and "Password:" (Dovecot mech-login.c).
import type { SaslContext, SaslMechanism, SaslStep } from './mechanism.js';

export function loginMechanism(ctx: SaslContext): SaslMechanism {
  let user: string | undefined;
  return {
    name: 'LOGIN',
    async step(resp): Promise<SaslStep> {
      if (user === undefined) {
        // An initial response (SASL-IR) is the username.
        if (resp === null || resp.length === 0) return { challenge: Buffer.from('Username:') };
        user = resp.toString('utf8');
        return { challenge: Buffer.from('Password:') };
      }
      const password = (resp ?? Buffer.alloc(0)).toString('utf8');
      return { done: await ctx.auth.authenticatePlain({ ...ctx.info, mech: 'LOGIN', user, password }) };
    },
  };
}
