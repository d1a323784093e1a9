// `mail_location` (Dovecot's setting, `<scheme>:<rest>`): which backend serves a user's store.
// The configuration layer cannot import storage (storage depends on config), so storage registers
// its schemes with config/mail-location.ts, which checks the setting where it is read (errors name
// the file and line).
import { registerMailLocationScheme } from '../config/mail-location.js';
import type { StorageBackend } from './backend.js';
import { BACKENDS } from './backends.js';
import { StorageError } from './types.js';

for (const b of BACKENDS) registerMailLocationScheme({ scheme: b.scheme, example: b.example, check: (rest) => b.checkLocation(rest) });

/** The backend named by `location`'s scheme, and the backend's part; PARAMETERS for an unknown scheme or a bad rest. */
export function parseMailLocation(location: string): { backend: StorageBackend; rest: string } {
  const m = /^([a-z][a-z0-9]*):(.*)$/s.exec(location.trim());
  const known = BACKENDS.map((b) => b.example).join(', ');
  const bad = (why: string) => new StorageError('PARAMETERS', `Invalid mail_location ${JSON.stringify(location)}: ${why}`);
  const backend = m ? BACKENDS.find((b) => b.scheme === m[1]) : undefined;
  if (!m || !backend) throw bad(`expected one of ${known}`);
  const why = backend.checkLocation(m[2]!);
  if (why !== undefined) throw bad(why);
  return { backend, rest: m[2]! };
}
