import { randomBytes } from 'node:crypto';

/**
 * A session id in Dovecot's shape: 16 bytes, base64 without padding (22 characters),
 * e.g. `FILjLaBNB2sRRgAAg+zDdQ`. Dovecot mixes time and pid into it; random bytes serve the
 * same purpose here (unique per session, safe to log).
 */
export function newSessionId(): string {
  return randomBytes(16).toString('base64').replace(/=+$/, '');
}
