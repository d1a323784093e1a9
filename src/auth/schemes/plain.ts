// PLAIN / CLEAR / CLEARTEXT: the password itself.
import type { PasswordScheme } from './types.js';

export function plainScheme(name: string): PasswordScheme {
  return { name, encoding: 'none', rawLength: 0, generate: async (plain) => Buffer.from(plain) };
}
