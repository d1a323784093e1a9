// The shape every command handler has: the states it is valid in (RFC 3501 §3) and what it does.
// A handler returns its tagged result; the session writes pending untagged updates before it.
import type { ImapCommand, ImapCommandName } from '../protocol/index.js';
import type { CommandContext, SessionState } from './context.js';

export interface CommandResult {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  /** Response code without brackets, e.g. `READ-WRITE`, `APPENDUID 7 3`. */
  code?: string;
  /** A BAD for malformed arguments: rendered `Error in IMAP command <NAME>: <text>`. */
  syntax?: boolean;
  /** Ends the connection after the tagged reply with this untagged BYE text. */
  byeAfterReply?: string;
  /** Runs right after the tagged reply is written (COMPRESS switches the stream then). */
  afterReply?: () => void;
}

/** The command variants a name can be (some variants share several names, e.g. DELETE/SUBSCRIBE). */
type VariantsNamed<C, N> = C extends { name: infer M } ? (N extends M ? C : never) : never;
export type CommandOf<N extends ImapCommandName> = VariantsNamed<ImapCommand, N>;

export interface CommandHandler<N extends ImapCommandName = ImapCommandName> {
  states: readonly SessionState[];
  /**
   * RFC 3501 §7.4.1: EXPUNGE responses may not follow FETCH, STORE or SEARCH (they would shift the
   * sequence numbers the client is using); the UID forms may. Default: true.
   */
  mayAnnounceExpunge?(cmd: CommandOf<N>): boolean;
  /** null: the handler wrote everything itself (LOGOUT, a login that closed the connection). */
  run(session: CommandContext, tag: string, cmd: CommandOf<N>): Promise<CommandResult | null>;
}

export type HandlerTable = { [N in ImapCommandName]: CommandHandler<N> };

export const ok = (text: string, code?: string): CommandResult => ({ status: 'OK', text, code });
export const no = (text: string, code?: string): CommandResult => ({ status: 'NO', text, code });
export const bad = (text: string, code?: string): CommandResult => ({ status: 'BAD', text, code });
/** BAD for a malformed argument (bad message set, ...). */
export const badSyntax = (text: string): CommandResult => ({ status: 'BAD', text, syntax: true });

export const ANY_STATE = ['not-authenticated', 'authenticated', 'selected'] as const;
export const NOT_AUTHENTICATED = ['not-authenticated'] as const;
export const AUTHENTICATED = ['authenticated', 'selected'] as const;
export const SELECTED = ['selected'] as const;
