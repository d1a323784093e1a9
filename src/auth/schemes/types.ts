// The shape every password scheme implements. Mirrors Dovecot's password-scheme.h: a scheme has a
// default encoding for its stored form, an optional fixed raw length, a generator and (for salted
// schemes) its own verifier; unsalted digests are verified by generating and comparing.

export type SchemeEncoding = 'none' | 'base64' | 'hex';

export interface SchemeContext {
  /** The user the password belongs to (DIGEST-MD5 style schemes would need it). */
  user?: string;
  /** Cost parameter: rounds for *-CRYPT/PBKDF2/SCRAM, cost factor for BLF-CRYPT, t for ARGON2. */
  rounds?: number;
  /** ARGON2 memory in KiB (tests use small values; production keeps Dovecot's defaults). */
  memoryKiB?: number;
}

export interface PasswordScheme {
  readonly name: string;
  readonly encoding: SchemeEncoding;
  /** Length of the decoded credentials when fixed (digests); 0 when variable. */
  readonly rawLength: number;
  /** CPU-heavy by design (argon2, bcrypt): the main thread hands it to the hash helper thread. */
  readonly offThread?: boolean;
  generate(plain: Buffer, ctx: SchemeContext): Promise<Buffer>;
  /** Salted schemes verify themselves; throws PasswordDataError for malformed stored data. */
  verify?(plain: Buffer, raw: Buffer, ctx: SchemeContext): Promise<boolean>;
}

/** The stored password is malformed for its scheme (Dovecot: "Password data is not valid ..."). */
export class PasswordDataError extends Error {}
