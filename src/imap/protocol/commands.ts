// Typed IMAP commands (RFC 3501 §6 and the extensions Roost speaks). Mailbox names are decoded from
// mUTF-7 (or taken as UTF-8 after ENABLE UTF8=ACCEPT); `INBOX` is normalised to upper case.
import type { ImapDate } from './datetime.js';
import type { LiteralBody } from './literal.js';
import type { SequenceSet } from './sequence-set.js';
import type { ImapArg } from './args.js';

/** RFC 3501 §6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 7889 APPENDLIMIT. */
export type StatusItem = 'MESSAGES' | 'RECENT' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'HIGHESTMODSEQ' | 'SIZE' | 'APPENDLIMIT' | 'MAILBOXID';

export type SearchKey =
  | { type: 'all' }
  /** System flags as `\Seen` etc., keywords as given; `set: false` for UNSEEN, UNKEYWORD, ... */
  | { type: 'flag'; flag: string; set: boolean }
  | { type: 'new' }
  | { type: 'old' }
  /** `saved`: RFC 8514 SAVEDBEFORE/SAVEDON/SAVEDSINCE. */
  | { type: 'date'; field: 'internal' | 'sent' | 'saved'; op: 'before' | 'on' | 'since'; date: ImapDate }
  /** RFC 8474 EMAILID / THREADID. */
  | { type: 'objectid'; field: 'emailid' | 'threadid'; id: string }
  /** RFC 5032 OLDER/YOUNGER (seconds). */
  | { type: 'age'; op: 'older' | 'younger'; seconds: number }
  /** FROM/TO/CC/BCC/SUBJECT and HEADER <field> <string>; an empty value means "has the field". */
  /** `address`: FROM/TO/CC/BCC, matched against the rebuilt address list (Dovecot's index-search.c). */
  | { type: 'header'; field: string; value: string; address?: true }
  | { type: 'body'; value: string }
  | { type: 'text'; value: string }
  | { type: 'size'; op: 'larger' | 'smaller'; size: number }
  | { type: 'sequence'; set: SequenceSet }
  | { type: 'uid'; set: SequenceSet }
  /** RFC 7162 §3.1.5 MODSEQ [entry-name entry-type] value. */
  | { type: 'modseq'; modseq: number; entry?: { name: string; kind: 'priv' | 'shared' | 'all' } }
  | { type: 'not'; key: SearchKey }
  | { type: 'or'; left: SearchKey; right: SearchKey }
  | { type: 'and'; keys: SearchKey[] };

/** RFC 4731, RFC 5182 SAVE, RFC 5267 UPDATE and PARTIAL (its range in the command's `partial`). */
export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'UPDATE' | 'PARTIAL';

/** RFC 5267 §4.4 PARTIAL m:n: positions in the result, 1-based, m ≤ n. */
export interface PartialRange {
  from: number;
  to: number;
}

/** RFC 5256 §3 sort-key, RFC 5957 DISPLAYFROM / DISPLAYTO. */
export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
export interface SortCriterion {
  key: SortKey;
  reverse: boolean;
}
export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES' | 'REFS';

export type SectionSpecifier = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'MIME' | 'TEXT';

export interface BodySection {
  /** Part numbers, e.g. [1, 2] for `1.2`; empty for the whole message. */
  part: number[];
  specifier: SectionSpecifier | null;
  /** Header names for HEADER.FIELDS(.NOT), as the client wrote them. */
  fields: string[];
}

export interface Partial {
  offset: number;
  length: number;
}

export type FetchAttribute =
  | { type: 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'UID' | 'MODSEQ' }
  /** RFC 8514 SAVEDATE, RFC 8474 EMAILID / THREADID. */
  | { type: 'SAVEDATE' | 'EMAILID' | 'THREADID' }
  | { type: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  /** BODY[section]<partial> and BODY.PEEK[...]. `responseName` is what the FETCH response echoes. */
  | { type: 'BODY[]'; peek: boolean; section: BodySection; partial: Partial | null; responseName: string }
  /** RFC 3516 BINARY[part]<partial>, BINARY.PEEK. */
  | { type: 'BINARY[]'; peek: boolean; part: number[]; partial: Partial | null; responseName: string }
  | { type: 'BINARY.SIZE'; part: number[]; responseName: string }
  /** RFC 8970 PREVIEW [(LAZY)]; `snippet`: the older SNIPPET (FUZZY) form Dovecot also answers. */
  | { type: 'PREVIEW'; snippet: boolean; lazy?: true };

export type StoreAction = 'set' | 'add' | 'remove';

export interface AppendMessage {
  flags: string[];
  internalDate: { date: Date; timezoneOffsetMinutes: number } | null;
  body: LiteralBody;
  /** Sent as literal8 (APPEND with BINARY, RFC 3516). */
  binary: boolean;
  /** RFC 4469 CATENATE: the message is made of these parts (`body` is then empty). */
  catenate?: CatenatePart[];
}

/** RFC 4469: a TEXT literal or an IMAP URL (RFC 5092) naming a message or part of one. */
export type CatenatePart = { type: 'text'; body: LiteralBody } | { type: 'url'; url: string };

export interface ListSelection {
  subscribed: boolean;
  remote: boolean;
  recursiveMatch: boolean;
  specialUse: boolean;
}

export interface ListReturn {
  subscribed: boolean;
  children: boolean;
  specialUse: boolean;
  /** RFC 5819 RETURN (STATUS (...)); null when not asked. */
  status: StatusItem[] | null;
}

export type MetadataDepth = '0' | '1' | 'infinity';

export type ImapCommand =
  | { name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'IDLE' | 'NAMESPACE' | 'UNAUTHENTICATE' }
  | { name: 'EXPUNGE'; uid: false }
  /** RFC 4315 UID EXPUNGE. */
  | { name: 'EXPUNGE'; uid: true; set: SequenceSet }
  /** RFC 4959 SASL-IR: `initialResponse` is the base64 text ("=" for empty). */
  | { name: 'AUTHENTICATE'; mechanism: string; initialResponse: string | null }
  | { name: 'LOGIN'; username: string; password: string }
  | { name: 'SELECT' | 'EXAMINE'; mailbox: string; condstore: boolean; qresync: QresyncParams | null }
  /** RFC 6154 CREATE ... (USE (\Sent)). */
  | { name: 'CREATE'; mailbox: string; specialUse: string[] }
  | { name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; mailbox: string }
  | { name: 'RENAME'; from: string; to: string }
  /** RFC 3501 LIST, or RFC 5258 extended LIST when `extended`. */
  | { name: 'LIST'; reference: string; patterns: string[]; selection: ListSelection; returns: ListReturn; extended: boolean }
  | { name: 'LSUB'; reference: string; pattern: string }
  | { name: 'STATUS'; mailbox: string; items: StatusItem[] }
  | { name: 'APPEND'; mailbox: string; messages: AppendMessage[] }
  | {
      name: 'SEARCH';
      uid: boolean;
      charset: string | null;
      /** RFC 4731 ESEARCH: null for a plain SEARCH; `RETURN ()` means ALL. */
      returnOptions: SearchReturnOption[] | null;
      partial: PartialRange | null;
      criteria: SearchKey;
    }
  | {
      name: 'FETCH';
      uid: boolean;
      set: SequenceSet;
      attributes: FetchAttribute[];
      /** RFC 7162 CHANGEDSINCE modifier. */
      changedSince: number | null;
      /** RFC 7162 §3.2.6 VANISHED modifier (UID FETCH only). */
      vanished: boolean;
    }
  | {
      name: 'STORE';
      uid: boolean;
      set: SequenceSet;
      action: StoreAction;
      silent: boolean;
      flags: string[];
      /** RFC 7162 UNCHANGEDSINCE modifier. */
      unchangedSince: number | null;
    }
  | { name: 'COPY' | 'MOVE'; uid: boolean; set: SequenceSet; mailbox: string }
  /** RFC 2971: null for `ID NIL`. */
  | { name: 'ID'; params: Array<[string, string | null]> | null }
  | { name: 'ENABLE'; capabilities: string[] }
  /** RFC 5256 SORT (RFC 5957 DISPLAYFROM/DISPLAYTO, RFC 5267 ESORT RETURN). */
  | { name: 'SORT'; uid: boolean; program: SortCriterion[]; charset: string; returnOptions: SearchReturnOption[] | null; partial: PartialRange | null; criteria: SearchKey }
  /** RFC 5267 §4.3 CANCELUPDATE "tag" ... */
  | { name: 'CANCELUPDATE'; tags: string[] }
  /**
   * RFC 4467 URLAUTH commands. Their arguments are checked only when URLAUTH is on (Dovecot answers
   * "URLAUTH disabled" first), so a malformed list is carried as `invalid` (the BAD text).
   */
  | { name: 'GENURLAUTH'; args: { requests: GenUrlAuthRequest[] } | { invalid: string } }
  | { name: 'RESETKEY'; args: { mailbox: string | null; mechanisms: string[] } | { invalid: string } }
  | { name: 'URLFETCH'; args: { requests: UrlFetchRequest[] } | { invalid: string } }
  /** RFC 5256 THREAD. */
  | { name: 'THREAD'; uid: boolean; algorithm: ThreadAlgorithm; charset: string; criteria: SearchKey }
  /** RFC 9208 §4.2-4.4 (Dovecot 2.3's QUOTA). */
  | { name: 'GETQUOTAROOT'; mailbox: string }
  | { name: 'GETQUOTA'; root: string }
  | { name: 'SETQUOTA'; root: string; limits: ImapArg[] }
  /** RFC 8508 REPLACE / UID REPLACE: one message replaces the one named, possibly in another mailbox. */
  | { name: 'REPLACE'; uid: boolean; set: SequenceSet; mailbox: string; message: AppendMessage }
  /** RFC 4978 COMPRESS mechanism. */
  | { name: 'COMPRESS'; mechanism: string }
  /** RFC 5464 GETMETADATA. `mailbox` "" is the server. */
  | { name: 'GETMETADATA'; mailbox: string; entries: string[]; maxSize: number | null; depth: MetadataDepth }
  /** RFC 5464 SETMETADATA: a null value removes the entry. */
  | { name: 'SETMETADATA'; mailbox: string; entries: Array<{ entry: string; value: Buffer | null }> }
  /** RFC 5465 NOTIFY: `spec` null for `NOTIFY NONE`. */
  | { name: 'NOTIFY'; spec: NotifySpec | null };

/** RFC 5465 §5 events. */
export type NotifyEvent =
  | 'MessageNew' | 'MessageExpunge' | 'FlagChange' | 'AnnotationChange'
  | 'MailboxName' | 'SubscriptionChange' | 'MailboxMetadataChange' | 'ServerMetadataChange';

/** RFC 5465 §6 filters other than the selected mailbox, with their events. */
export type NotifyGroup =
  | { filter: 'inboxes' | 'personal' | 'subscribed'; events: NotifyEvent[] }
  | { filter: 'subtree' | 'mailboxes'; names: string[]; events: NotifyEvent[] };

/** `selected` / `selected-delayed` (§6.1): events, and MessageNew's fetch attributes. */
export interface NotifySelected {
  delayed: boolean;
  events: NotifyEvent[];
  fetch: FetchAttribute[] | null;
}

/** NOTIFY SET [STATUS] (filter events)... */
export interface NotifySpec {
  /** §3.1 STATUS: send the watched mailboxes' STATUS before the tagged OK. */
  status: boolean;
  selected: NotifySelected | null;
  groups: NotifyGroup[];
}

export type ImapCommandName = ImapCommand['name'];

/** RFC 7162 §3.2.5: SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])). */
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  /** The UIDs the client knows (null: all). */
  knownUids: SequenceSet | null;
  /** Sequence numbers and the UIDs the client has for them (a hint Roost does not need). */
  seqMatch: { seqs: SequenceSet; uids: SequenceSet } | null;
}

/** One `url-rump mechanism` pair of GENURLAUTH. */
export interface GenUrlAuthRequest {
  url: string;
  mechanism: string;
}

/** One URLFETCH argument: a URL, or RFC 5524's `(url [BODY|BINARY] [BODYPARTSTRUCTURE])`. */
export interface UrlFetchRequest {
  url: string;
  extended: boolean;
  body: boolean;
  binary: boolean;
  bodyPartStructure: boolean;
}
