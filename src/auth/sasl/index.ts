// createMechanism: the one entry point the protocol layers use.
import type { AuthClientInfo } from '../request.js';
import type { AuthService } from '../service.js';
import { cramMd5Mechanism } from './cram-md5.js';
import { loginMechanism } from './login.js';
import type { SaslMechanism } from './mechanism.js';
import { oauthbearerMechanism, xoauth2Mechanism } from './oauth.js';
import { plainMechanism } from './plain.js';
import { scramMechanism } from './scram.js';

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'OAUTHBEARER', 'XOAUTH2'] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

/** Returns undefined for unsupported mechanisms (IMAP: `NO Unsupported authentication mechanism.`). */
export function createMechanism(name: string, auth: AuthService, info: AuthClientInfo): SaslMechanism | undefined {
  const ctx = { auth, info };
  switch (name.toUpperCase()) {
    case 'PLAIN':
      return plainMechanism(ctx);
    case 'LOGIN':
      return loginMechanism(ctx);
    case 'CRAM-MD5':
      return cramMd5Mechanism(ctx);
    case 'SCRAM-SHA-1':
      return scramMechanism(ctx, 'sha1');
    case 'SCRAM-SHA-256':
      return scramMechanism(ctx, 'sha256');
    case 'OAUTHBEARER':
      return oauthbearerMechanism(ctx);
    case 'XOAUTH2':
      return xoauth2Mechanism(ctx);
    default:
      return undefined;
  }
}

export { SASL_ABORTED, SASL_BASE64_ERROR, decodeClientResponse, type SaslMechanism, type SaslStep } from './mechanism.js';
