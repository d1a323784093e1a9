// Walks a command's arguments for the command parser. Failures throw `CommandSyntaxError`, which
// the parser turns into a `BAD <reason>` value; nothing outside the protocol layer sees the throw.
import { argToAstring, argToString, type ImapArg } from './args.js';
import { decodeMailboxName, INVALID_MUTF7 } from './mutf7.js';
import { parseSequenceSet, type SequenceSet } from './sequence-set.js';

export const INVALID_ARGUMENTS = 'Invalid arguments.';

export class CommandSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly status: 'BAD' | 'NO' = 'BAD',
  ) {
    super(reason);
  }
}

export function fail(reason: string = INVALID_ARGUMENTS): never {
  throw new CommandSyntaxError(reason);
}

export interface ParseOptions {
  /** RFC 6855 ENABLE UTF8=ACCEPT: mailbox names arrive as UTF-8, not mUTF-7. */
  utf8Accept?: boolean;
}

export class ArgCursor {
  private index = 0;
  constructor(
    private readonly args: ImapArg[],
    readonly options: ParseOptions = {},
  ) {}

  get done(): boolean {
    return this.index >= this.args.length;
  }

  peek(): ImapArg | undefined {
    return this.args[this.index];
  }

  next(): ImapArg {
    const arg = this.args[this.index++];
    if (!arg) fail();
    return arg;
  }

  /** The next argument if it is an atom equal (case-insensitively) to `word`. */
  acceptAtom(word: string): boolean {
    const arg = this.peek();
    if (arg?.type === 'atom' && arg.value.toUpperCase() === word) {
      this.index++;
      return true;
    }
    return false;
  }

  atom(): string {
    const arg = this.next();
    if (arg.type !== 'atom') fail();
    return arg.value;
  }

  astring(): string {
    const s = argToAstring(this.next());
    if (s === null) fail();
    return s;
  }

  string(): string {
    const s = argToString(this.next());
    if (s === null) fail();
    return s;
  }

  /** nstring: NIL or a string. */
  nstring(): string | null {
    const arg = this.next();
    if (arg.type === 'nil') return null;
    const s = argToString(arg);
    if (s === null) fail();
    return s;
  }

  list(): ImapArg[] {
    const arg = this.next();
    if (arg.type !== 'list') fail();
    return arg.items;
  }

  number(): number {
    return parseNumber(this.atom());
  }

  mailbox(): string {
    return decodeMailbox(this.astring(), this.options);
  }

  sequenceSet(uid: boolean): SequenceSet {
    return parseSet(this.atom(), uid);
  }

  end(): void {
    if (!this.done) fail();
  }

  /** The arguments not read yet (consumes them). */
  rest(): ImapArg[] {
    const out = this.args.slice(this.index);
    this.index = this.args.length;
    return out;
  }
}

/** RFC 3501 §9 number (32-bit) / RFC 7162 mod-sequence-value (63-bit, kept ≤ 2^53 here). */
export function parseNumber(text: string, reason: string = INVALID_ARGUMENTS): number {
  if (!/^[0-9]{1,16}$/.test(text)) fail(reason);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) fail(reason);
  return n;
}

export function parseSet(text: string, uid: boolean): SequenceSet {
  const set = parseSequenceSet(text);
  if (!set) fail(uid ? 'Invalid uidset' : 'Invalid messageset');
  return set;
}

/** Mailbox name from the wire; INBOX in any case becomes `INBOX` (RFC 3501 §5.1). */
export function decodeMailbox(wire: string, options: ParseOptions): string {
  const name = options.utf8Accept ? wire : decodeMailboxName(wire);
  if (name === null) throw new CommandSyntaxError(INVALID_MUTF7, 'NO');
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** A LIST pattern or reference: like a mailbox, but `*`/`%` stay and INBOX is left as sent. */
/** A LIST/LSUB pattern: one that is not valid mUTF-7 is matched as given (Dovecot 2.3.19). */
export function decodePattern(wire: string, options: ParseOptions): string {
  if (options.utf8Accept) return wire;
  return decodeMailboxName(wire) ?? wire;
}

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** A flag for STORE/APPEND: a system flag (canonical case) or a keyword atom. */
export function parseFlag(arg: ImapArg): string {
  // Dovecot 2.3.19 reads NIL here as the keyword `NIL` (`STORE 1 +FLAGS NIL` sets it).
  if (arg.type === 'nil') return 'NIL';
  if (arg.type !== 'atom') fail();
  const text = arg.value;
  if (text.startsWith('\\')) {
    const system = SYSTEM_FLAGS.find((f) => f.toLowerCase() === text.toLowerCase());
    if (!system) fail(`Invalid system flag ${text}`);
    return system;
  }
  // RFC 3501 §9 flag-keyword = atom; `]` is an atom-special too.
  if (/[\]%*]/.test(text)) fail('Invalid characters in keyword');
  return text;
}
