// `{SCHEME}data` passwords: parsing, decoding, verifying and creating, with Dovecot's scheme names,
// default encodings, `.HEX`/`.B64` suffixes and error texts (password-scheme.c, auth-request.c).
import { argon2Scheme } from './argon2.js';
import { bcryptScheme } from './bcrypt.js';
import { cramMd5Scheme } from './cram-md5.js';
import { cryptScheme, desCryptScheme } from './crypt.js';
import { digestScheme, saltedDigestScheme } from './digest.js';
import { md5CryptScheme } from './md5-crypt.js';
import { pbkdf2Scheme } from './pbkdf2.js';
import { plainScheme } from './plain.js';
import { scramScheme } from './scram.js';
import { shaCryptScheme } from './sha-crypt.js';
import { isMainThread } from 'node:worker_threads';
import { AsyncHashPool } from './hash-thread.js';
import { PasswordDataError, type PasswordScheme, type SchemeContext, type SchemeEncoding } from './types.js';

/**
 * Scheme for new passwords. SHA512-CRYPT: verified by every Dovecot build (glibc/libxcrypt crypt),
 * and computed in a few milliseconds; ARGON2ID is stronger but takes ~0.4 s of main-thread CPU per
 * login at Dovecot's parameters (hash-wasm is synchronous WebAssembly), which would stall IMAP.
 */
export const DEFAULT_PASSWORD_SCHEME = 'SHA512-CRYPT';

const schemes = new Map<string, PasswordScheme>();

export function registerPasswordScheme(scheme: PasswordScheme, ...aliases: string[]): void {
  for (const name of [scheme.name, ...aliases]) schemes.set(name.toUpperCase(), scheme);
}

registerPasswordScheme(plainScheme('PLAIN'));
registerPasswordScheme(plainScheme('CLEAR'), 'CLEARTEXT');
registerPasswordScheme(cryptScheme);
registerPasswordScheme(desCryptScheme);
registerPasswordScheme(md5CryptScheme('MD5-CRYPT'), 'MD5'); // Dovecot: {MD5} is MD5-CRYPT
registerPasswordScheme(shaCryptScheme('SHA256-CRYPT', '5'));
registerPasswordScheme(shaCryptScheme('SHA512-CRYPT', '6'));
registerPasswordScheme(bcryptScheme('BLF-CRYPT'));
registerPasswordScheme(argon2Scheme('ARGON2I', 'argon2i'));
registerPasswordScheme(argon2Scheme('ARGON2ID', 'argon2id'));
registerPasswordScheme(pbkdf2Scheme);
registerPasswordScheme(digestScheme('SHA', 'sha1', 'base64'), 'SHA1');
registerPasswordScheme(digestScheme('SHA256', 'sha256', 'base64'));
registerPasswordScheme(digestScheme('SHA512', 'sha512', 'base64'));
registerPasswordScheme(digestScheme('PLAIN-MD5', 'md5', 'hex'));
registerPasswordScheme(digestScheme('LDAP-MD5', 'md5', 'base64'));
registerPasswordScheme(saltedDigestScheme('SSHA', 'sha1'));
registerPasswordScheme(saltedDigestScheme('SSHA256', 'sha256'));
registerPasswordScheme(saltedDigestScheme('SSHA512', 'sha512'));
registerPasswordScheme(saltedDigestScheme('SMD5', 'md5'));
registerPasswordScheme(cramMd5Scheme, 'HMAC-MD5');
registerPasswordScheme(scramScheme('SCRAM-SHA-1', 'sha1'));
registerPasswordScheme(scramScheme('SCRAM-SHA-256', 'sha256'));

export interface ResolvedScheme {
  scheme: PasswordScheme;
  /** Encoding forced by a `.HEX` / `.B64` suffix, if any. */
  suffixEncoding?: SchemeEncoding;
}

/** Looks up `NAME` or `NAME.HEX` / `NAME.B64` / `NAME.BASE64` (case-insensitive). */
export function lookupScheme(name: string): ResolvedScheme | undefined {
  const upper = name.toUpperCase();
  const direct = schemes.get(upper);
  if (direct) return { scheme: direct };
  const dot = upper.lastIndexOf('.');
  if (dot < 0) return undefined;
  const base = schemes.get(upper.slice(0, dot));
  const suffix = upper.slice(dot + 1);
  const encoding = suffix === 'HEX' ? 'hex' : suffix === 'B64' || suffix === 'BASE64' ? 'base64' : undefined;
  return base && encoding ? { scheme: base, suffixEncoding: encoding } : undefined;
}

export function listPasswordSchemes(): string[] {
  return [...schemes.keys()].sort();
}

/** Splits `{SCHEME}data`; without a prefix the default scheme applies (Dovecot password_get_scheme). */
export function splitStoredPassword(stored: string, defaultScheme = 'PLAIN'): { scheme: string; data: string } {
  if (stored.startsWith('{')) {
    const end = stored.indexOf('}');
    if (end > 0) return { scheme: stored.slice(1, end).toUpperCase(), data: stored.slice(end + 1) };
  }
  // Dovecot special-cases MD5-crypt strings stored without a prefix.
  if (stored.startsWith('$1$') && stored.indexOf('$', 3) > 3) return { scheme: 'MD5-CRYPT', data: stored };
  return { scheme: defaultScheme.toUpperCase(), data: stored };
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Decodes stored data into the scheme's raw credentials; throws PasswordDataError (password_decode). */
export function decodeCredentials(resolved: ResolvedScheme, data: string): Buffer {
  const { scheme } = resolved;
  let encoding = resolved.suffixEncoding ?? scheme.encoding;
  if (encoding !== 'none' && scheme.rawLength !== 0 && !resolved.suffixEncoding) {
    // Dovecot guesses hex vs base64 from the length when no suffix says.
    encoding = data.length === scheme.rawLength * 2 ? 'hex' : 'base64';
  }
  let raw: Buffer;
  if (encoding === 'hex') {
    if (!HEX_RE.test(data)) throw new PasswordDataError("Input isn't valid HEX encoded data");
    raw = Buffer.from(data, 'hex');
  } else if (encoding === 'base64') {
    if (!BASE64_RE.test(data)) throw new PasswordDataError("Input isn't valid base64 encoded data");
    raw = Buffer.from(data, 'base64');
  } else {
    raw = Buffer.from(data, 'utf8');
  }
  if (scheme.rawLength !== 0 && raw.length !== scheme.rawLength) {
    throw new PasswordDataError(`Input length isn't valid (${raw.length} instead of ${scheme.rawLength})`);
  }
  return raw;
}

function encode(resolved: ResolvedScheme, raw: Buffer): string {
  const encoding = resolved.suffixEncoding ?? resolved.scheme.encoding;
  return encoding === 'hex' ? raw.toString('hex') : encoding === 'base64' ? raw.toString('base64') : raw.toString('utf8');
}

export type VerifyPasswordResult = { ok: boolean } | { error: string; unknownScheme?: boolean };

export interface VerifyOptions extends SchemeContext {
  /** Scheme for passwords without a `{SCHEME}` prefix (passdb `scheme=`, default PLAIN). */
  defaultScheme?: string;
}

const toBuffer = (plain: string | Buffer) => (typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain);

/** Created on first use: the main thread's helper threads for CPU-heavy schemes (hash-worker.ts). */
let hashPool: AsyncHashPool | undefined;
function offloads(schemeName: string): boolean {
  return isMainThread && lookupScheme(schemeName)?.scheme.offThread === true;
}

/**
 * Checks a plaintext password against a stored `{SCHEME}data` password. Never throws. On the main
 * thread, SHA256/512-CRYPT, ARGON2I/ARGON2ID, BLF-CRYPT and CRYPT run on the hash helper threads (a
 * 0.4 s argon2 would otherwise stall every connection); everything else is fast enough to run here.
 */
export async function verifyPassword(plain: string | Buffer, stored: string, opts: VerifyOptions = {}): Promise<VerifyPasswordResult> {
  if (offloads(splitStoredPassword(stored, opts.defaultScheme).scheme)) {
    hashPool ??= new AsyncHashPool();
    return hashPool.verify(plain, stored, opts);
  }
  return verifyPasswordHere(plain, stored, opts);
}

/** verifyPassword on the current thread (the hash helper thread runs this). */
export async function verifyPasswordHere(plain: string | Buffer, stored: string, opts: VerifyOptions = {}): Promise<VerifyPasswordResult> {
  const { scheme: name, data } = splitStoredPassword(stored, opts.defaultScheme);
  const resolved = lookupScheme(name);
  if (!resolved) return { error: `Unknown scheme ${name}`, unknownScheme: true };
  const plainBuf = toBuffer(plain);
  try {
    const raw = decodeCredentials(resolved, data);
    if (resolved.scheme.verify) return { ok: await resolved.scheme.verify(plainBuf, raw, opts) };
    const generated = await resolved.scheme.generate(plainBuf, opts);
    return { ok: generated.length === raw.length && timingSafeEqualBuffers(generated, raw) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { error: `Password data is not valid for scheme ${name}: ${msg}` };
  }
}

function timingSafeEqualBuffers(a: Buffer, b: Buffer): boolean {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Creates `{SCHEME}data` for a new password. Throws `Unknown scheme <S>` for unknown schemes. */
export async function hashPassword(plain: string | Buffer, scheme: string = DEFAULT_PASSWORD_SCHEME, opts: SchemeContext = {}): Promise<string> {
  if (offloads(scheme)) {
    hashPool ??= new AsyncHashPool();
    return hashPool.hash(plain, scheme, opts);
  }
  return hashPasswordHere(plain, scheme, opts);
}

/** hashPassword on the current thread. */
export async function hashPasswordHere(plain: string | Buffer, scheme: string = DEFAULT_PASSWORD_SCHEME, opts: SchemeContext = {}): Promise<string> {
  const name = scheme.toUpperCase();
  const resolved = lookupScheme(name);
  if (!resolved) throw new Error(`Unknown scheme ${name}`);
  return `{${name}}${encode(resolved, await resolved.scheme.generate(toBuffer(plain), opts))}`;
}

export type CredentialsResult = { credentials: Buffer; scheme: string } | { error: string };

/**
 * Credentials in `wantedScheme` for a non-plaintext mechanism (CRAM-MD5, SCRAM): the stored data when
 * it is already in that scheme, or derived when the stored password is plaintext (Dovecot
 * passdb_get_credentials). Raw decoded bytes: 32-byte context for CRAM-MD5, the text for SCRAM.
 */
export async function credentialsFor(stored: string, wantedScheme: string, opts: VerifyOptions = {}): Promise<CredentialsResult> {
  const wanted = wantedScheme.toUpperCase();
  const wantedResolved = lookupScheme(wanted);
  if (!wantedResolved) return { error: `Unknown scheme ${wanted}` };
  const { scheme: name, data } = splitStoredPassword(stored, opts.defaultScheme);
  const resolved = lookupScheme(name);
  if (!resolved) return { error: `Unknown scheme ${name}` };
  try {
    const raw = decodeCredentials(resolved, data);
    if (resolved.scheme === wantedResolved.scheme) return { credentials: raw, scheme: wanted };
    if (resolved.scheme.name === 'PLAIN' || resolved.scheme.name === 'CLEAR') {
      return { credentials: await wantedResolved.scheme.generate(raw, opts), scheme: wanted };
    }
    return { error: `Requested ${wanted} scheme, but we have only ${name}` };
  } catch (err) {
    return { error: `Password data is not valid for scheme ${name}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
