// Auth settings as the config layer hands them over. Structural stand-ins for src/config's
// PassdbSettings / UserdbSettings (names and values follow dovecot.conf).

export type AuthDbRule = 'continue' | 'continue-ok' | 'continue-fail' | 'return' | 'return-ok' | 'return-fail';
/** passdb: never/authenticated/unauthenticated; userdb: never/found/notfound (Dovecot 2.3). */
export type AuthDbSkip = 'never' | 'authenticated' | 'unauthenticated' | 'found' | 'notfound';

export interface AuthDbSettings {
  driver: string;
  args: string;
  name?: string;
  result_success?: string;
  result_failure?: string;
  result_internalfail?: string;
  skip?: string;
  /** `key=value ...` applied before the lookup (values %-expanded). */
  default_fields?: string;
  /** `key=value ...` applied after the lookup, replacing what the db returned. */
  override_fields?: string;
  master?: boolean;
  /** Master passdb: after the master authenticated, also look the target user up in the normal passdbs. */
  pass?: boolean;
  deny?: boolean;
}

export interface AuthSettings {
  passdbs: AuthDbSettings[];
  userdbs: AuthDbSettings[];
  /** Default `%Lu` (Dovecot 2.3). Empty string: leave the username as given. */
  auth_username_format?: string;
  auth_default_realm?: string;
  auth_realms?: string[];
  /** E.g. `*`: `user*master` logs in as user with master's password. Empty = disabled. */
  auth_master_user_separator?: string;
  /** Default: Dovecot's list (letters, digits and `.-_@`). Empty string = anything goes. */
  auth_username_chars?: string;
  /** Seconds a failed authentication waits before its reply (Dovecot default 2). */
  auth_failure_delay?: number;
}

export const DEFAULT_USERNAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@';

const RULES: readonly AuthDbRule[] = ['continue', 'continue-ok', 'continue-fail', 'return', 'return-ok', 'return-fail'];

export function parseRule(value: string | undefined, fallback: AuthDbRule, what: string): AuthDbRule {
  if (value === undefined || value === '') return fallback;
  if ((RULES as readonly string[]).includes(value)) return value as AuthDbRule;
  throw new Error(`Unknown ${what} value: ${value}`);
}

export function parseSkip(value: string | undefined, kind: 'passdb' | 'userdb'): AuthDbSkip {
  const allowed = kind === 'passdb' ? ['never', 'authenticated', 'unauthenticated'] : ['never', 'found', 'notfound'];
  if (value === undefined || value === '') return 'never';
  if (allowed.includes(value)) return value as AuthDbSkip;
  throw new Error(`Invalid ${kind} skip value: ${value}`);
}
