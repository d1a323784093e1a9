// The wire format of Dovecot's auth client protocol 1.2 (doc/auth-protocol.txt in Dovecot 2.3,
// https://doc.dovecot.org/developer_manual/design/auth_protocol/): LF-terminated lines of
// TAB-separated fields, with Dovecot's "tab-escaping" (lib/strescape.c str_tabescape): \001 is the
// escape character, followed by 1 (\001), t (TAB), r (CR), n (LF) or 0 (NUL).
import type { AuthFailure, AuthResult } from '../auth/index.js';

export const AUTH_PROTOCOL_MAJOR = 1;
export const AUTH_PROTOCOL_MINOR = 2;

const ESCAPES: Record<string, string> = { '\x01': '\x011', '\t': '\x01t', '\r': '\x01r', '\n': '\x01n' };
const UNESCAPES: Record<string, string> = { '1': '\x01', t: '\t', r: '\r', n: '\n', '0': '\0' };

export function tabEscape(s: string): string {
  return s.replace(/[\x01\t\r\n]/g, (c) => ESCAPES[c]!);
}

export function tabUnescape(s: string): string {
  return s.replace(/\x01(.)/gs, (_m, c: string) => UNESCAPES[c] ?? c);
}

/** One line → its fields, unescaped (t_strsplit_tabescaped). */
export function splitLine(line: string): string[] {
  return line.split('\t').map(tabUnescape);
}

/**
 * The security flags Dovecot announces for each mechanism on its MECH lines (auth/mech-*.c,
 * MECH_SEC_* in auth/mech.h; checked against Dovecot 2.3.19's handshake).
 */
export const MECHANISM_FLAGS: Record<string, string[]> = {
  PLAIN: ['plaintext'],
  LOGIN: ['plaintext'],
  'CRAM-MD5': ['dictionary', 'active'],
  'SCRAM-SHA-1': ['mutual-auth'],
  'SCRAM-SHA-256': ['mutual-auth'],
  OAUTHBEARER: ['plaintext'],
  XOAUTH2: ['plaintext'],
};

/** The server's half of the handshake: VERSION, MECH lines, SPID, CUID, COOKIE, DONE. */
export function handshakeLines(mechanisms: string[], spid: number, cuid: number, cookie: string): string[] {
  return [
    `VERSION\t${AUTH_PROTOCOL_MAJOR}\t${AUTH_PROTOCOL_MINOR}`,
    ...mechanisms.map((m) => ['MECH', m, ...(MECHANISM_FLAGS[m] ?? [])].join('\t')),
    `SPID\t${spid}`,
    `CUID\t${cuid}`,
    `COOKIE\t${cookie}`,
    'DONE',
  ];
}

/**
 * Passdb fields the auth process consumes instead of returning (auth-request-fields.c
 * auth_request_set_field): the password, checks it applies, and hidden fields.
 */
const CONSUMED_FIELDS = new Set(['password', 'nopassword', 'allow_nets', 'allow_real_nets', 'nodelay', 'noauthenticate', 'fail', 'delay_until']);

function field(key: string, value: string): string {
  return value === '' ? `\t${key}` : `\t${key}=${tabEscape(value)}`;
}

/** `nologin` and `proxy` are booleans on the wire (auth_fields_booleanize): present or absent. */
function booleanized(key: string, value: string): string | undefined {
  if (key !== 'nologin' && key !== 'proxy') return value;
  return /^(no|n|0|false)$/i.test(value) ? undefined : '';
}

/** `original_user=` and `auth_user=` after the fields (auth_str_append_extra_fields). */
function loginFields(user: string, originalUser: string | undefined, masterUser: string | undefined, fields: Record<string, string> = {}): string {
  let out = '';
  if (originalUser !== undefined && originalUser !== user && !('original_user' in fields)) out += field('original_user', originalUser);
  if (masterUser !== undefined && !('auth_user' in fields)) out += field('auth_user', masterUser);
  return out;
}

/** `OK <id> user=<user> <extra fields>` (auth-request-handler.c reply_success_finish). */
export function okLine(id: number, result: Extract<AuthResult, { ok: true }>): string {
  let line = `OK\t${id}\tuser=${tabEscape(result.user)}`;
  const fields = result.passdbFields;
  for (const [k, v] of Object.entries(fields)) {
    if (CONSUMED_FIELDS.has(k)) continue;
    const value = booleanized(k, v);
    if (value !== undefined) line += field(k, value);
  }
  return line + loginFields(result.user, result.originalUser, result.masterUser, fields);
}

/** Dovecot's failure codes (lib-auth/auth-client-interface.h AUTH_CLIENT_FAIL_CODE_*). */
function failCode(failure: AuthFailure): string | undefined {
  if (failure.reason === 'tempfail') return 'temp_fail';
  if (failure.masterUser !== undefined) return 'authz_fail';
  if (failure.reason === 'disabled') return 'user_disabled';
  if (failure.reason === 'expired') return 'pass_expired';
  return undefined;
}

/** `FAIL <id> [user=] [code=] [nodelay] [original_user=] [auth_user=]` (reply_failure_finish). */
export function failLine(id: number, failure: AuthFailure): string {
  let line = `FAIL\t${id}`;
  if (failure.user !== undefined) line += field('user', failure.user);
  const code = failCode(failure);
  if (code) line += `\tcode=${code}`;
  if (failure.nodelay) line += '\tnodelay';
  if (failure.user !== undefined) line += loginFields(failure.user, failure.originalUser, failure.masterUser);
  return line;
}

/** A failure of the protocol itself (auth_request_handler_auth_fail_code): `FAIL <id> [code=] reason=`. */
export function protocolFailLine(id: number, reason: string, code?: string): string {
  return `FAIL\t${id}${code ? `\tcode=${code}` : ''}\treason=${tabEscape(reason)}`;
}
