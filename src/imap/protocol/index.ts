// The IMAP wire format: pure, storage-free. Reader → parser → typed commands; writer helpers back.
export { type ImapArg, type ProtocolError, argToAstring, argToString, argToAtom, describeArg } from './args.js';
export {
  CommandReader,
  type CommandReaderOptions,
  type ReaderEvent,
  isValidTag,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_MAX_LITERAL_SIZE,
  DEFAULT_SPOOL_THRESHOLD,
  LITERAL_MINUS_MAX,
  APPEND_TOO_BIG_TEXT,
} from './command-reader.js';
export { type LiteralBody, type LiteralSink, type LiteralSinkFactory, BufferLiteral, tempFileSinkFactory, memorySinkFactory } from './literal.js';
export { parseCommand, type ParseResult, type ParseOptions, UNKNOWN_COMMAND } from './command-parser.js';
export type * from './commands.js';
export { parseSection, formatSection } from './fetch-parser.js';
export { NOTIFY_EVENTS } from './notify-parser.js';
export {
  type SequenceSet,
  type SeqRange,
  type SeqNumber,
  parseSequenceSet,
  expandSequenceSet,
  sequenceSetIntervals,
  sequenceSetHas,
  sequenceSetFitsMessageCount,
  sequenceSetMaxNumber,
  formatSequenceSet,
  formatNumberSet,
  INVALID_MESSAGESET,
  INVALID_UIDSET,
} from './sequence-set.js';
export {
  type ImapDate,
  type ImapDateTime,
  parseImapDate,
  parseImapDateTime,
  formatImapDate,
  formatImapDateTime,
  compareImapDates,
} from './datetime.js';
export { encodeMailboxName, decodeMailboxName, INVALID_MUTF7 } from './mutf7.js';
export { type MailboxMatcher, compileMailboxPattern, matchMailboxPattern, joinReferenceAndPattern } from './mailbox-pattern.js';
export {
  type ResponseValue,
  type ResponseCode,
  type QuoteOptions,
  type Status,
  Atom,
  atom,
  formatString,
  formatNString,
  formatAstring,
  formatMailbox,
  formatValue,
  formatList,
  formatResponseCode,
  taggedLine,
  untaggedLine,
  untaggedStatusLine,
  continuationLine,
  errorLine,
  MAX_QUOTED_LENGTH,
} from './response-writer.js';
export { type LiteralSource, writeLiteral, writeSourceRange, DEFAULT_WRITE_CHUNK } from './literal-writer.js';

/** RFC 2177: the line that ends IDLE (read in raw-line mode). */
export function isIdleDone(line: string): boolean {
  return line.toUpperCase() === 'DONE';
}
