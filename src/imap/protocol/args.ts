// The generic argument tree the command reader produces (RFC 3501 §9 "command" grammar, before any
// command-specific meaning is attached). The command parser turns these into typed commands.
import type { LiteralBody } from './literal.js';

export type ImapArg =
  /** An atom as sent (case preserved). `[...]` section specs are kept inside the atom. */
  | { type: 'atom'; value: string }
  /** A quoted string, escapes removed (as UTF-8; `raw`: the bytes, when some are 8-bit). */
  | { type: 'string'; value: string; raw?: Buffer }
  /** A literal small enough to hold in memory. `binary` for literal8 `~{n}` (RFC 3516). */
  | { type: 'literal'; data: Buffer; binary: boolean }
  /** A big literal (APPEND) streamed into a sink instead of memory. */
  | { type: 'spooled'; body: LiteralBody; binary: boolean }
  | { type: 'nil' }
  | { type: 'list'; items: ImapArg[] };

/** A protocol error as a value: the server renders it as `<tag|*> <status> [<code>] <text>`. */
export interface ProtocolError {
  /** The command's tag when it could be read; null → untagged reply. */
  tag: string | null;
  status: 'BAD' | 'NO';
  /** Response code without brackets, e.g. `TOOBIG`. */
  code?: string;
  text: string;
}

/** A string view of an atom, quoted string or in-memory literal (astring); null otherwise. */
export function argToAstring(arg: ImapArg | undefined): string | null {
  if (!arg) return null;
  switch (arg.type) {
    case 'atom':
    case 'string':
      return arg.value;
    case 'literal':
      return arg.data.toString('utf8');
    case 'nil':
      // An astring may be the atom NIL (a mailbox or user may be called NIL).
      return 'NIL';
    default:
      return null;
  }
}

/** A string (quoted or literal, not atom). RFC 3501 §9 `string`. */
export function argToString(arg: ImapArg | undefined): string | null {
  if (!arg) return null;
  if (arg.type === 'string') return arg.value;
  if (arg.type === 'literal') return arg.data.toString('utf8');
  return null;
}

export function argToAtom(arg: ImapArg | undefined): string | null {
  return arg && arg.type === 'atom' ? arg.value : null;
}

/** Describes an argument for debugging and test output. */
export function describeArg(arg: ImapArg): string {
  switch (arg.type) {
    case 'atom':
      return arg.value;
    case 'string':
      return JSON.stringify(arg.value);
    case 'literal':
      return `{${arg.data.length}}`;
    case 'spooled':
      return `{${arg.body.size} spooled}`;
    case 'nil':
      return 'NIL';
    case 'list':
      return `(${arg.items.map(describeArg).join(' ')})`;
  }
}
