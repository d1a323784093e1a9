// OAUTHBEARER (RFC 7628) and XOAUTH2 (Google): the bearer token is handed to the passdbs as the
// password (Dovecot 2.3 without an oauth2 passdb: a Lua or static passdb decides). On failure
// OAUTHBEARER first sends the JSON error challenge and fails after the client's dummy reply (§3.2.3).
import type { SaslContext, SaslMechanism, SaslStep } from './mechanism.js';
import { saslFailure } from './mechanism.js';
import type { AuthResult } from '../service.js';

const FAILURE_JSON = JSON.stringify({ status: 'invalid_token', schemes: 'bearer', scope: 'mail' });

export function oauthbearerMechanism(ctx: SaslContext): SaslMechanism {
  let pending: AuthResult | undefined;
  return {
    name: 'OAUTHBEARER',
    async step(resp): Promise<SaslStep> {
      if (pending) return { done: pending };
      if (resp === null) return { challenge: Buffer.alloc(0) };
      // gs2-header "n,a=user," then kvpairs separated by \x01, ending with \x01\x01.
      const text = resp.toString('utf8');
      const [gs2 = '', ...kv] = text.split('\x01');
      const authzid = /^[ny],a=([^,]*),/.exec(gs2)?.[1];
      const auth = kv.find((p) => p.startsWith('auth='))?.slice(5);
      const token = /^Bearer (.+)$/i.exec(auth ?? '')?.[1];
      if (!token || !authzid) return saslFailure('Invalid input');
      const user = authzid.replace(/=2C/g, ',').replace(/=3D/g, '=');
      const result = await ctx.auth.authenticatePlain({ ...ctx.info, mech: 'OAUTHBEARER', user, password: token });
      if (result.ok) return { done: result };
      pending = result;
      return { challenge: Buffer.from(FAILURE_JSON) };
    },
  };
}

export function xoauth2Mechanism(ctx: SaslContext): SaslMechanism {
  let pending: AuthResult | undefined;
  return {
    name: 'XOAUTH2',
    async step(resp): Promise<SaslStep> {
      if (pending) return { done: pending };
      if (resp === null) return { challenge: Buffer.alloc(0) };
      // "user=" user \x01 "auth=Bearer " token \x01\x01
      const kv = resp.toString('utf8').split('\x01');
      const user = kv.find((p) => p.startsWith('user='))?.slice(5);
      const token = /^Bearer (.+)$/i.exec(kv.find((p) => p.startsWith('auth='))?.slice(5) ?? '')?.[1];
      if (!user || !token) return saslFailure('Invalid input');
      const result = await ctx.auth.authenticatePlain({ ...ctx.info, mech: 'XOAUTH2', user, password: token });
      if (result.ok) return { done: result };
      pending = result;
      return { challenge: Buffer.from(JSON.stringify({ status: '401', schemes: 'bearer', scope: 'mail' })) };
    },
  };
}
