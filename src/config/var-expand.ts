// Dovecot 2.3's `%` variable expansion (lib/var-expand.c, var-expand-if.c), see
// spec/dovecot-lua-api.md §7.4: `%[-][0][<offset>.]<width>[modifiers]<var>` with short (`%u`) and
// long (`%{user}`) variables, modifiers L U E X R H N M D T, functions env:/userdb:/passdb:, hash
// functions with options, pkcs5 and if;...; unknown variables become UNSUPPORTED_VARIABLE_<name>.
//
// Dovecot works on bytes, so the expansion runs on a "binary" string (one char per UTF-8 byte):
// offsets, widths, case changes (ASCII only) and hashes then match Dovecot byte for byte.
import { createHash, getHashes, pbkdf2Sync } from 'node:crypto';
import { hostname as osHostname } from 'node:os';

export interface VarExpandContext {
  /** Long name -> value; null = a known variable without a value (expands to ''). */
  variables: Record<string, string | null>;
  /** Short letter -> long name in `variables` (`u` -> `user`). */
  shortNames?: Record<string, string>;
  /** Enables `%{userdb:field[:default]}`. */
  userdb?: Record<string, string>;
  /** Enables `%{passdb:field[:default]}`. */
  passdb?: Record<string, string>;
  /** `%{env:NAME}`; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Built-ins `%{pid}`, `%{uid}`, `%{gid}`, `%{hostname}` when the table has no such entry. */
  builtins?: { pid?: string; uid?: string; gid?: string; hostname?: string };
}

/** A hard expansion error; the message is Dovecot's (`Cannot parse hash arguments:...`). */
export class VarExpandError extends Error {
  override readonly name = 'VarExpandError';
}

interface State {
  ctx: VarExpandContext;
  error: string | null;
}

/** `ret` follows Dovecot: 1 ok, 0 unknown variable (not an error), -1 hard error. */
interface Expanded {
  ret: number;
  value: string | null;
}

const toBinary = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const fromBinary = (s: string) => Buffer.from(s, 'latin1').toString('utf8');

/** Expands `template`; throws VarExpandError for hard errors only. */
export function varExpand(template: string, ctx: VarExpandContext): string {
  const state: State = { ctx, error: null };
  const { ret, value } = expandBinary(toBinary(template), state);
  if (ret < 0) throw new VarExpandError(state.error ?? 'var_expand failed');
  return fromBinary(value);
}

/**
 * Expands `template` and reports unknown variables too, as callers that treat Dovecot's return
 * value 0 as a failure need (auth's SQL queries: `t_auth_request_var_expand(...) <= 0`).
 */
export function varExpandStrict(template: string, ctx: VarExpandContext): { value: string; error?: string } {
  const state: State = { ctx, error: null };
  const { ret, value } = expandBinary(toBinary(template), state);
  if (ret <= 0) return { value: fromBinary(value), error: state.error ?? 'var_expand failed' };
  return { value: fromBinary(value) };
}

const MODIFIER_KEYS = 'LUEXRHNMDT';
const MAX_MODIFIER_COUNT = 10;

interface FieldFormat {
  offset: number;
  width: number;
  zeroPadding: boolean;
}

function expandBinary(str: string, state: State): { ret: number; value: string } {
  let out = '';
  let finalRet = 1;
  let i = 0;
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  for (; i < str.length; i++) {
    if (str[i] !== '%') {
      out += str[i];
      continue;
    }
    i++;
    const f: FieldFormat = { offset: 0, width: 0, zeroPadding: false };
    let sign = 1;
    if (str[i] === '-') {
      sign = -1;
      i++;
    }
    if (str[i] === '0') {
      f.zeroPadding = true;
      i++;
    }
    while (isDigit(str[i])) f.width = f.width * 10 + Number(str[i++]);
    if (str[i] === '.') {
      f.offset = sign * f.width;
      sign = 1;
      f.width = 0;
      i++;
      // A zero before the offset is ignored; zero padding goes with the width.
      f.zeroPadding = false;
      if (str[i] === '0') {
        f.zeroPadding = true;
        i++;
      }
      if (str[i] === '-') {
        sign = -1;
        i++;
      }
      while (isDigit(str[i])) f.width = f.width * 10 + Number(str[i++]);
      f.width = sign * f.width;
    }
    const modifiers: string[] = [];
    while (modifiers.length < MAX_MODIFIER_COUNT && str[i] !== undefined && MODIFIER_KEYS.includes(str[i]!)) {
      modifiers.push(str[i++]!);
    }
    if (i >= str.length) break;

    let r: Expanded;
    if (str[i] === '{' && str.indexOf('}', i) >= 0) {
      // %{long_key}: nested braces and backslash escapes are skipped over.
      let depth = 1;
      let escape = false;
      let end = i;
      while (++end < str.length && depth > 0) {
        if (!escape && str[end] === '\\') {
          escape = true;
          continue;
        }
        if (escape) {
          escape = false;
          continue;
        }
        if (str[end] === '{') depth++;
        if (str[end] === '}') depth--;
      }
      if (depth === 0) end--;
      r = expandLong(str.slice(i + 1, end), state);
      i = end;
    } else {
      r = expandShort(str[i]!, state);
    }
    if (r.ret < finalRet) finalRet = r.ret;
    if (r.value !== null) out += formatField(r.value, modifiers, f);
  }
  return { ret: finalRet, value: out };
}

function formatField(value: string, modifiers: string[], f: FieldFormat): string {
  let v = value;
  for (const m of modifiers) v = applyModifier(m, v, f);
  if (f.offset < 0) {
    if (v.length > -f.offset) v = v.slice(v.length + f.offset);
  } else if (f.offset > 0) {
    v = v.slice(Math.min(f.offset, v.length));
  }
  if (f.width === 0) return v;
  if (!f.zeroPadding) {
    let width = f.width;
    if (width < 0) width = v.length + width;
    // A negative size wraps to "no limit" in Dovecot's size_t arithmetic.
    return width < 0 ? v : v.slice(0, width);
  }
  return v.length < f.width ? '0'.repeat(f.width - v.length) + v : v;
}

/** Dovecot's %L modifier: ASCII letters only (t_str_lcase), as in `%Lu`. */
export function asciiLowercase(s: string): string {
  return asciiCase(s, false);
}

function asciiCase(s: string, upper: boolean): string {
  return s.replace(upper ? /[a-z]+/g : /[A-Z]+/g, (m) => (upper ? m.toUpperCase() : m.toLowerCase()));
}

function applyModifier(m: string, v: string, f: FieldFormat): string {
  switch (m) {
    case 'L':
      return asciiCase(v, false);
    case 'U':
      return asciiCase(v, true);
    case 'E':
      return v.replace(/["'\\]/g, '\\$&');
    case 'X': {
      // str_to_ullong: digits only, no overflow; anything else counts as 0.
      const n = /^\d+$/.test(v) ? BigInt(v) : 0n;
      return (n > 0xffffffffffffffffn ? 0n : n).toString(16);
    }
    case 'R':
      return [...v].reverse().join('');
    case 'H':
    case 'N': {
      let value = m === 'H' ? BigInt(strHash(v)) : md5Prefix64(v);
      if (f.width !== 0) {
        value %= BigInt(f.width >>> 0);
        f.width = 0;
      }
      // N prints the value truncated to 32 bits, as Dovecot casts it to unsigned int.
      const hex = (m === 'N' ? value & 0xffffffffn : value).toString(16);
      const padded = hex.length < f.offset ? '0'.repeat(f.offset - hex.length) + hex : hex;
      f.offset = 0;
      return padded;
    }
    case 'M':
      return createHash('md5').update(Buffer.from(v, 'latin1')).digest('hex');
    case 'D':
      return v.replace(/\./g, ',dc=');
    case 'T':
      return v.replace(/[ \t\n\v\f\r]+$/, '');
    default:
      return v;
  }
}

/** Dovecot 2.3's str_hash (the ELF hash), on bytes. */
function strHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) {
    h = ((h << 4) + s.charCodeAt(i)) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) {
      h = (h ^ (g >>> 24)) >>> 0;
      h = (h ^ g) >>> 0;
    }
  }
  return h;
}

function md5Prefix64(s: string): bigint {
  return createHash('md5').update(Buffer.from(s, 'latin1')).digest().readBigUInt64BE(0);
}

function expandShort(key: string, state: State): Expanded {
  const long = state.ctx.shortNames?.[key];
  if (long !== undefined && Object.hasOwn(state.ctx.variables, long)) {
    return { ret: 1, value: toBinary(state.ctx.variables[long] ?? '') };
  }
  if (key === '%') return { ret: 1, value: '%' };
  state.error ??= `Unknown variable '%${key}'`;
  return { ret: 0, value: `UNSUPPORTED_VARIABLE_${key}` };
}

function expandLong(rawKey: string, state: State): Expanded {
  const { ctx } = state;
  const tableKey = fromBinary(rawKey);
  if (Object.hasOwn(ctx.variables, tableKey)) return { ret: 1, value: toBinary(ctx.variables[tableKey] ?? '') };
  const builtin = builtinValue(rawKey, ctx);
  if (builtin !== null) return { ret: 1, value: toBinary(builtin) };

  const colon = rawKey.indexOf(':');
  const key = colon >= 0 ? rawKey.slice(0, colon) : rawKey;
  const data = colon >= 0 ? rawKey.slice(colon + 1) : '';
  const sep = key.indexOf(';');
  const name = (sep >= 0 ? key.slice(0, sep) : key).toLowerCase();
  let r: Expanded;
  if (name === 'if') r = expandIf(key, data, state);
  else if (name === 'pkcs5' || HASH_METHODS.has(name)) r = expandHash(key, data, state);
  else r = expandFunction(key, data, state);
  return { ret: r.ret, value: r.value ?? '' };
}

function builtinValue(key: string, ctx: VarExpandContext): string | null {
  const b = ctx.builtins ?? {};
  switch (key) {
    case 'pid':
      return b.pid ?? String(process.pid);
    case 'uid':
      return b.uid ?? String(process.geteuid?.() ?? 0);
    case 'gid':
      return b.gid ?? String(process.getegid?.() ?? 0);
    case 'hostname':
      return b.hostname ?? osHostname();
    default:
      return null;
  }
}

function expandFunction(key: string, data: string, state: State): Expanded {
  const { ctx } = state;
  if (key === 'env') {
    const env = ctx.env ?? process.env;
    return { ret: 1, value: toBinary(env[fromBinary(data)] ?? '') };
  }
  const fields = key === 'userdb' ? ctx.userdb : key === 'passdb' ? ctx.passdb : undefined;
  if (fields) {
    // `%{userdb:field:default}`: the default is what follows the second colon.
    const colon = data.indexOf(':');
    const field = fromBinary(colon >= 0 ? data.slice(0, colon) : data);
    const dflt = colon >= 0 ? data.slice(colon + 1) : '';
    return { ret: 1, value: Object.hasOwn(fields, field) ? toBinary(fields[field]!) : dflt };
  }
  state.error ??= `Unknown variable '%${key}'`;
  return { ret: 0, value: `UNSUPPORTED_VARIABLE_${key}` };
}

/** Dovecot's hash_method names, as far as Node's OpenSSL provides them. */
const HASH_METHODS: ReadonlyMap<string, { node: string; digestSize: number }> = new Map(
  (
    [
      ['md4', 'md4', 16],
      ['md5', 'md5', 16],
      ['sha1', 'sha1', 20],
      ['sha256', 'sha256', 32],
      ['sha384', 'sha384', 48],
      ['sha512', 'sha512', 64],
      ['sha3-256', 'sha3-256', 32],
      ['sha3-512', 'sha3-512', 64],
    ] as const
  )
    .filter(([, node]) => getHashes().includes(node))
    .map(([name, node, digestSize]) => [name, { node, digestSize }]),
);

/** pkcs5_pbkdf is asked for HMAC_MAX_CONTEXT_SIZE (256) bytes of output in Dovecot 2.3. */
const PKCS5_OUTPUT_BYTES = 256;

function hashArgError(state: State, text: string): Expanded {
  state.error = `Cannot parse hash arguments:${text}`;
  return { ret: -1, value: null };
}

function expandHash(key: string, field: string, state: State): Expanded {
  const semi = key.indexOf(';');
  const algo = semi >= 0 ? key.slice(0, semi) : key;
  const args = semi >= 0 ? key.slice(semi + 1).split(',') : [];
  const isPkcs5 = algo === 'pkcs5';
  // The method lookup is case-sensitive; `%{MD5:x}` matches the function but no method.
  const method = isPkcs5 ? HASH_METHODS.get('sha256') : HASH_METHODS.get(algo);
  if (!method) return { ret: 0, value: null };

  const input = expandLong(field, state);
  if (input.ret < 1) return { ret: input.ret, value: null };

  let rounds = isPkcs5 ? 2048 : 1;
  let truncBits = 0;
  let salt = isPkcs5 ? field : '';
  let format: 'hex' | 'hexuc' | 'base64' = 'hex';
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) continue;
    const k = arg.slice(0, eq);
    const v = arg.slice(eq + 1);
    if (k === 'rounds') {
      if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) return hashArgError(state, `'${v}' is not number for rounds`);
      rounds = Number(v);
      if (rounds < 1) return hashArgError(state, 'rounds must be at least 1');
    } else if (k === 'truncate') {
      if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) return hashArgError(state, `'${v}' is not number for truncbits`);
      truncBits = Math.min(Number(v), method.digestSize * 8);
    } else if (k === 'salt') {
      const s = expandBinary(v, state);
      if (s.ret < 0) return { ret: -1, value: null };
      salt = s.value;
      // Dovecot stops reading arguments after salt.
      break;
    } else if (k === 'format') {
      if (v !== 'hex' && v !== 'hexuc' && v !== 'base64') return hashArgError(state, `'${v}' is not supported format`);
      format = v;
    }
  }

  const value = Buffer.from(input.value ?? '', 'latin1');
  const saltBytes = Buffer.from(salt, 'latin1');
  let digest: Buffer;
  if (isPkcs5) {
    digest = pbkdf2Sync(value, saltBytes, rounds, PKCS5_OUTPUT_BYTES, 'sha256');
  } else {
    digest = value;
    for (let r = 0; r < rounds; r++) {
      digest = createHash(method.node).update(saltBytes).update(digest).digest();
    }
  }
  if (truncBits > 0) digest = truncateBits(digest, truncBits);
  // Dovecot 2.3 prints `hexuc` in lower case too (its FORMAT_HEX_UC branch uses binary_to_hex).
  const text = format === 'base64' ? digest.toString('base64') : digest.toString('hex');
  return { ret: 1, value: text };
}

/** Keeps the first `bits` bits, right-aligned in whole bytes (buffer_truncate_rshift_bits). */
function truncateBits(buf: Buffer, bits: number): Buffer {
  if (buf.length * 8 < bits) return buf;
  const bytes = Math.ceil(bits / 8);
  const n = BigInt('0x' + (buf.toString('hex') || '0')) >> BigInt(buf.length * 8 - bits);
  return Buffer.from(n.toString(16).padStart(bytes * 2, '0'), 'hex');
}

const IF_OPS = ['==', '<', '<=', '>', '>=', '!=', 'eq', 'lt', 'le', 'gt', 'ge', 'ne', '*', '!*', '~', '!~'] as const;

function ifError(state: State, text: string): Expanded {
  state.error = text;
  return { ret: -1, value: null };
}

function expandIf(key: string, data: string, state: State): Expanded {
  // The long key was split at its first ':'; put it back together before splitting on ';'.
  const input = `${key}:${data}`;
  const start = input.indexOf(';');
  if (start < 0) return ifError(state, 'if: missing parameter(s)');
  const params: string[] = [];
  let buf = '';
  let depth = 0;
  let escape = false;
  let maybeVar = false;
  for (let i = start + 1; i < input.length; i++) {
    const c = input[i]!;
    if (c === '\\') {
      escape = true;
      continue;
    } else if (escape) {
      buf += c;
      escape = false;
      continue;
    }
    if (c === '%') maybeVar = true;
    else if (maybeVar && c === '{') {
      depth++;
      maybeVar = false;
    } else if (depth > 0 && c === '}') depth--;
    else if (depth === 0 && c === ';') {
      params.push(buf);
      buf = '';
      continue;
    } else if (depth === 0 && c === ':') break;
    buf += c;
  }
  if (buf.length > 0) params.push(buf);
  if (params.length === 4) params.push('');
  else if (params.length !== 5) return ifError(state, `if: requires four or five parameters, got ${params.length}`);

  const args: string[] = [];
  for (const p of params) {
    const r = expandBinary(p, state);
    if (r.ret <= 0) return { ret: r.ret, value: null };
    args.push(r.value);
  }
  const [lhs, op, rhs, yes, no] = args as [string, string, string, string, string];
  if (!(IF_OPS as readonly string[]).includes(op)) return ifError(state, `if: Unsupported comparator '${op}'`);
  let result: boolean;
  if (IF_OPS.indexOf(op as (typeof IF_OPS)[number]) < 6) {
    const num = (s: string) => (/^-?\d+$/.test(s) ? BigInt(s) : null);
    const a = num(lhs);
    if (a === null) return ifError(state, `if: ${lhs} (lhs) is not a number`);
    const b = num(rhs);
    if (b === null) return ifError(state, `if: ${rhs} (rhs) is not a number`);
    result = op === '==' ? a === b : op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : op === '>=' ? a >= b : a !== b;
  } else {
    const cmp = lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
    switch (op) {
      case 'eq': result = cmp === 0; break;
      case 'lt': result = cmp < 0; break;
      case 'le': result = cmp <= 0; break;
      case 'gt': result = cmp > 0; break;
      case 'ge': result = cmp >= 0; break;
      case 'ne': result = cmp !== 0; break;
      case '*': result = wildcardMatch(lhs, rhs); break;
      case '!*': result = !wildcardMatch(lhs, rhs); break;
      default: {
        let re: RegExp;
        try {
          // POSIX extended regex, approximated by JavaScript's.
          re = new RegExp(rhs);
        } catch (e) {
          return ifError(state, `if: regex failed: ${(e as Error).message}`);
        }
        result = re.test(lhs) === (op === '~');
      }
    }
  }
  return { ret: 1, value: result ? yes : no };
}

/** Dovecot's wildcard_match: `*` any run, `?` one character, whole string. */
function wildcardMatch(data: string, mask: string): boolean {
  const re = mask.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${re}$`).test(data);
}

export interface MailUserVarInput {
  user: string;
  service: string;
  home?: string | null;
  localIp?: string | null;
  remoteIp?: string | null;
  pid?: number | string;
  uid?: number | string | null;
  gid?: number | string | null;
  session?: string | null;
  /** The login (master/auth) user; defaults to `user`. */
  authUser?: string | null;
  hostname?: string;
  userdbFields?: Record<string, string>;
}

/** The mail-user variable table of spec §7.4 (mail_user_var_expand_table in Dovecot 2.3). */
export function mailUserVarTable(u: MailUserVarInput): VarExpandContext {
  const at = u.user.indexOf('@');
  const authUser = u.authUser ?? u.user;
  const authAt = authUser.indexOf('@');
  const str = (v: number | string | null | undefined) => (v === undefined || v === null ? null : String(v));
  const pid = str(u.pid) ?? String(process.pid);
  const variables: Record<string, string | null> = {
    user: u.user,
    username: at >= 0 ? u.user.slice(0, at) : u.user,
    domain: at >= 0 ? u.user.slice(at + 1) : null,
    service: u.service,
    home: u.home ?? null,
    lip: u.localIp ?? null,
    rip: u.remoteIp ?? null,
    pid,
    uid: str(u.uid),
    gid: str(u.gid),
    session: u.session ?? null,
    auth_user: authUser,
    auth_username: authAt >= 0 ? authUser.slice(0, authAt) : authUser,
    auth_domain: authAt >= 0 ? authUser.slice(authAt + 1) : null,
    local_ip: u.localIp ?? null,
    remote_ip: u.remoteIp ?? null,
  };
  if (u.hostname !== undefined) variables.hostname = u.hostname;
  return {
    variables,
    shortNames: { u: 'user', n: 'username', d: 'domain', s: 'service', h: 'home', l: 'lip', r: 'rip', p: 'pid', i: 'uid' },
    userdb: u.userdbFields ?? {},
  };
}
