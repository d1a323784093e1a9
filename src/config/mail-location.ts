// The `mail_location` schemes the storage layer serves. Storage depends on config, not the other
// way round, so storage registers its backends here (storage/location.ts, loaded with
// storage/index.ts) and the settings builder checks `mail_location` against them.

export interface MailLocationScheme {
  /** e.g. `sqlite` */
  scheme: string;
  /** A working location, for messages (`sqlite:~/mail.db`). */
  example: string;
  /** Why the part after `scheme:` is wrong, or undefined. */
  check(rest: string): string | undefined;
}

const schemes = new Map<string, MailLocationScheme>();

export function registerMailLocationScheme(s: MailLocationScheme): void {
  schemes.set(s.scheme, s);
}

/** The registered schemes; empty in a process that never loaded the storage layer. */
export function mailLocationSchemes(): MailLocationScheme[] {
  return [...schemes.values()];
}

/**
 * The default `mail_location`: one store file per user under the home (README "Storage"). A
 * value, not a dependency: which code serves it is storage's business.
 */
export const DEFAULT_MAIL_LOCATION = 'sqlite:~/mail.db';
