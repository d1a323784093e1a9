// Auth's view of var_expand: the one implementation lives in src/config/var-expand.ts; this file
// adds the auth variable table's short letters (Dovecot auth-request-var-expand.c) and the
// `key=value` argument parser the drivers share.
import { varExpand, varExpandStrict, type VarExpandContext } from '../config/var-expand.js';

/** Short letters of Dovecot 2.3's auth variable table (`%u`, `%w`, `%k`, ...). */
export const AUTH_SHORT_NAMES: Readonly<Record<string, string>> = {
  u: 'user', n: 'username', d: 'domain', s: 'service', h: 'home', l: 'lip', r: 'rip', p: 'pid',
  w: 'password', m: 'mech', c: 'secured', a: 'lport', b: 'rport', k: 'cert',
};

export interface AuthVarInput {
  /** Long name → value; null = known variable without a value. */
  variables: Record<string, string | null>;
  passdbFields: Record<string, string>;
  userdbFields: Record<string, string>;
}

export function authVarExpandContext(input: AuthVarInput): VarExpandContext {
  return { variables: input.variables, shortNames: { ...AUTH_SHORT_NAMES }, passdb: input.passdbFields, userdb: input.userdbFields };
}

/** Expands `template` with the auth table; throws VarExpandError on hard errors (`%{if;...}` misuse). */
export function authVarExpand(template: string, input: AuthVarInput): string {
  return varExpand(template, authVarExpandContext(input));
}

/**
 * Expansion for a query language (SQL): every value from the variable table and from
 * `%{passdb:...}`/`%{userdb:...}` goes through `escape` first, as Dovecot's
 * auth_request_get_var_expand_table_full does with the driver's escape function. Unknown
 * variables are an error here (Dovecot fails the lookup when var_expand returns 0).
 */
export function authVarExpandEscaped(template: string, input: AuthVarInput, escape: (value: string) => string): { value: string; error?: string } {
  const escapeAll = (fields: Record<string, string>) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, escape(v)]));
  const variables = Object.fromEntries(Object.entries(input.variables).map(([k, v]) => [k, v === null ? null : escape(v)]));
  return varExpandStrict(template, authVarExpandContext({ variables, passdbFields: escapeAll(input.passdbFields), userdbFields: escapeAll(input.userdbFields) }));
}

/** Parses Dovecot `key=value key2 ...` argument strings; a bare key gets an empty value. */
export function parseKeyValues(args: string): [string, string][] {
  return args
    .split(/\s+/)
    .filter(Boolean)
    .map((tok) => {
      const eq = tok.indexOf('=');
      return eq < 0 ? [tok, ''] : [tok.slice(0, eq), tok.slice(eq + 1)];
    });
}
