// The FETCH engine (RFC 3501 §6.4.5, §7.4.2; RFC 3516 BINARY; RFC 7162 MODSEQ): writes one
// `* n FETCH (...)` response per message, item order and formats as Dovecot 2.3.19 answers:
//   - UID FETCH puts UID first;
//   - the other items that fit on the line (FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY,
//     BODYSTRUCTURE, UID, MODSEQ, BINARY.SIZE) come next in request order, then an implicit FLAGS
//     (after \Seen was set) and MODSEQ (CHANGEDSINCE), then the literal items (BODY[...], RFC822*,
//     BINARY[...]) in request order (imap-fetch.c writes buffered handlers before body handlers).
// Literals stream from storage with backpressure (fetch-literal.ts); metadata-only fetches build
// one line per message into a batched write.
import { formatImapDateTime } from '../protocol/datetime.js';
import { formatBodyStructure } from '../protocol/bodystructure.js';
import { formatEnvelope } from '../protocol/envelope.js';
import type { FetchAttribute } from '../protocol/commands.js';
import { decodedBody, snippet } from '../../mime/decode.js';
import { formatString } from '../protocol/response-writer.js';
import { findPart, readSection, resolveSection, toImapBytes, type SectionSpec } from '../../mime/section.js';
import { readRange } from '../../mime/source.js';
import type { MimePart, PartSize } from '../../mime/types.js';
import type { BodyReader, SyncBodyReader, MessageFlags, MessageMeta } from '../../storage/types.js';
import { DataPending, evaluateWhenReady, LazyValue, syncBody } from '../../storage/maybe-async.js';
import { formatFlagList } from './fetch-flags.js';
import { writeBufferLiteral, writeRangeLiteral } from './fetch-literal.js';
import { previewCacheFor } from './preview-cache.js';
import { loadMimeStructure, type MessageBodyStore } from './fetch-mime.js';
import type { ResponseBatcher } from './fetch-output.js';

export interface FetchContext {
  store: MessageBodyStore;
  out: ResponseBatcher;
  /** UIDs that are \Recent in this session (Dovecot: the session that claimed them). */
  recentUids: ReadonlySet<number>;
  /**
   * Set when a BINARY item met a Content-Transfer-Encoding it cannot undo: that message was left
   * out and the tagged reply is `NO [UNKNOWN-CTE]` (RFC 3516 §4.3).
   */
  unknownCte?: boolean;
}

export interface FetchMessage {
  seq: number;
  meta: MessageMeta;
}

export interface FetchOptions {
  /** UID FETCH: UID is written first even when not asked for. */
  includeUid: boolean;
  /** CHANGEDSINCE (RFC 7162 §3.1.4.1): MODSEQ is added when not asked for. */
  includeModseq: boolean;
}

type BodyAttribute = Extract<FetchAttribute, { type: 'BODY[]' }>;
type BinaryAttribute = Extract<FetchAttribute, { type: 'BINARY[]' }>;
type BinarySizeAttribute = Extract<FetchAttribute, { type: 'BINARY.SIZE' }>;
type LiteralItem =
  | { kind: 'section'; name: string; spec: SectionSpec; partial: BodyAttribute['partial'] }
  | { kind: 'binary'; name: string; part: number[]; partial: BinaryAttribute['partial'] };
type InlineItem = Exclude<FetchAttribute, BodyAttribute | BinaryAttribute | { type: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }>;

/** The attributes sorted into Dovecot's output order once per command, not per message. */
export interface FetchPlan {
  inline: InlineItem[];
  literals: LiteralItem[];
  hasFlags: boolean;
  addModseq: boolean;
  needsMime: boolean;
  needsBody: boolean;
  /**
   * Only UID, FLAGS, RFC822.SIZE and MODSEQ: renderFetchFlagsOnly() can serve it from the cheaper
   * storage listMessageFlags() (the hot `FETCH 1:* (UID FLAGS RFC822.SIZE)` of mail clients).
   */
  flagsOnly: boolean;
  /** A BINARY[...] or BINARY.SIZE[...] item is asked for (their parts' CTEs are checked first). */
  hasBinary: boolean;
}

/** RFC 3501 §6.4.5: these set \Seen (BODY.PEEK, BINARY.PEEK and RFC822.HEADER do not). */
export function needsSeen(attributes: readonly FetchAttribute[]): boolean {
  return attributes.some((a) =>
    a.type === 'RFC822' || a.type === 'RFC822.TEXT' || ((a.type === 'BODY[]' || a.type === 'BINARY[]') && !a.peek));
}

/**
 * UIDs of the messages that FETCH must mark \Seen: the caller stores \Seen on these first, then
 * renders them with the new flags and `implicitFlagsUids` so FLAGS is part of the same response
 * (RFC 3501 §6.4.5; Dovecot adds FLAGS when it was not asked for).
 */
export function uidsToMarkSeen(messages: readonly FetchMessage[], attributes: readonly FetchAttribute[]): number[] {
  if (!needsSeen(attributes)) return [];
  const out: number[] = [];
  for (const m of messages) if (!m.meta.flags.some((f) => f.toLowerCase() === '\\seen')) out.push(m.meta.uid);
  return out;
}

/** Dovecot echoes HEADER.FIELDS names upper-cased: `BODY[HEADER.FIELDS (SUBJECT FROM)]`. */
function bodyResponseName(a: BodyAttribute): string {
  if (a.section.fields.length === 0) return a.responseName;
  const parts = a.section.part.map(String);
  if (a.section.specifier) parts.push(a.section.specifier);
  return `BODY[${parts.join('.')} (${a.section.fields.map((f) => f.toUpperCase()).join(' ')})]${a.partial ? `<${a.partial.offset}>` : ''}`;
}

function sectionSpec(a: BodyAttribute): SectionSpec {
  const kind = a.section.specifier === null ? 'full' : (a.section.specifier.toLowerCase() as SectionSpec['kind']);
  return { path: a.section.part, kind, fields: a.section.fields };
}

export function planFetch(attributes: readonly FetchAttribute[], opts: FetchOptions): FetchPlan {
  const inline: InlineItem[] = [];
  const literals: LiteralItem[] = [];
  if (opts.includeUid) inline.push({ type: 'UID' });
  for (const a of attributes) {
    switch (a.type) {
      case 'RFC822':
        literals.push({ kind: 'section', name: 'RFC822', spec: { path: [], kind: 'full' }, partial: null });
        break;
      case 'RFC822.HEADER':
        literals.push({ kind: 'section', name: 'RFC822.HEADER', spec: { path: [], kind: 'header' }, partial: null });
        break;
      case 'RFC822.TEXT':
        literals.push({ kind: 'section', name: 'RFC822.TEXT', spec: { path: [], kind: 'text' }, partial: null });
        break;
      case 'BODY[]':
        literals.push({ kind: 'section', name: bodyResponseName(a), spec: sectionSpec(a), partial: a.partial });
        break;
      case 'BINARY[]':
        literals.push({ kind: 'binary', name: a.responseName, part: a.part, partial: a.partial });
        break;
      default:
        // Each item once (Dovecot ignores repeats); UID may already be first.
        if (!inline.some((i) => i.type === a.type && (a.type !== 'BINARY.SIZE' || (i as BinarySizeAttribute).responseName === a.responseName))) inline.push(a);
    }
  }
  const hasFlags = inline.some((i) => i.type === 'FLAGS');
  const hasModseq = inline.some((i) => i.type === 'MODSEQ');
  const needsMime = literals.length > 0 || inline.some((i) => i.type === 'ENVELOPE' || i.type === 'BODY' || i.type === 'BODYSTRUCTURE' || i.type === 'BINARY.SIZE' || i.type === 'PREVIEW');
  const flagsOnly = literals.length === 0 && inline.every((i) => i.type === 'UID' || i.type === 'FLAGS' || i.type === 'RFC822.SIZE' || i.type === 'MODSEQ');
  return { inline, literals, hasFlags, addModseq: opts.includeModseq && !hasModseq, needsMime, needsBody: literals.length > 0 || inline.some((i) => i.type === 'BINARY.SIZE' || i.type === 'PREVIEW'), flagsOnly, hasBinary: literals.some((l) => l.kind === 'binary') || inline.some((i) => i.type === 'BINARY.SIZE') };
}

/**
 * Per-message lazy access to the MIME tree and body. `body` and `root` are read on first use; with
 * an asynchronous store they throw DataPending while being read (evaluateWhenReady runs the
 * rendering again), with a synchronous one they are at hand at once.
 */
class MessageData {
  // Made on first use: metadata-only FETCHes build one of these per message and read neither.
  private opened: LazyValue<BodyReader> | null = null;
  private source: LazyValue<SyncBodyReader> | null = null;
  private mime: LazyValue<MimePart> | null = null;
  constructor(readonly store: MessageBodyStore, readonly meta: MessageMeta) {}

  private get openedBody(): LazyValue<BodyReader> {
    return (this.opened ??= new LazyValue(() => this.store.openBody(this.meta.bodyId)));
  }

  /** The opened body when it is at hand (opened by an earlier use, or synchronously now). */
  private openedNow(): BodyReader | undefined {
    try {
      return this.openedBody.get();
    } catch (err) {
      if (err instanceof DataPending) return undefined;
      throw err;
    }
  }

  /** The body for src/mime's synchronous readers. */
  get body(): SyncBodyReader {
    this.source ??= new LazyValue(() => {
      const reader = this.openedNow();
      return reader ? syncBody(reader) : this.openedBody.load().then(syncBody);
    });
    return this.source.get();
  }
  get root(): MimePart {
    this.mime ??= new LazyValue(() => loadMimeStructure(this.store, this.meta, this.opened ? this.openedNow() : undefined));
    return this.mime.get();
  }
  /** The body as storage hands it out, for streaming a literal. */
  reader(): Promise<BodyReader> {
    return this.openedBody.load();
  }
}

/** RFC 3516 BINARY[part]: the part's content with its Content-Transfer-Encoding undone. */
function binaryContent(data: MessageData, path: number[]): Buffer | null {
  const root = data.root;
  if (path.length === 0) return null; // BINARY[] is the whole message as stored (streamed)
  const part = findPart(root, path);
  if (!part) return Buffer.alloc(0);
  if (part.children || part.message) return toImapBytes(readRange(data.body, part.bodyStart, part.bodyEnd));
  const encoding = (part.encoding ?? '7bit').toLowerCase();
  // Only base64/quoted-printable change the bytes; identity encodings are sent in IMAP form (CRLF).
  if (encoding === 'base64' || encoding === 'quoted-printable') return decodedBody(data.body, part);
  // Content with NULs goes out unchanged as literal8 (RFC 3516 §4.2); other text in IMAP form.
  const raw = readRange(data.body, part.bodyStart, part.bodyEnd);
  return raw.includes(0) ? raw : toImapBytes(raw);
}

function hasNul(bytes: Buffer): boolean {
  return bytes.includes(0);
}

/** Encodings BINARY can undo (RFC 2045 §6.1); anything else is UNKNOWN-CTE. */
const KNOWN_CTES = new Set(['', '7bit', '8bit', 'binary', 'base64', 'quoted-printable']);

function hasUnknownCte(part: MimePart): boolean {
  if (part.children) return part.children.some(hasUnknownCte);
  if (part.message) return hasUnknownCte(part.message);
  return !KNOWN_CTES.has((part.encoding ?? '').toLowerCase());
}

/** True when a BINARY item of `plan` names a part (or, for BINARY[], any part) with an unknown CTE. */
function binaryItemsBlocked(plan: FetchPlan, data: MessageData): boolean {
  const paths: number[][] = [];
  for (const l of plan.literals) if (l.kind === 'binary') paths.push(l.part);
  for (const i of plan.inline) if (i.type === 'BINARY.SIZE') paths.push(i.part);
  for (const path of paths) {
    const part = path.length === 0 ? data.root : findPart(data.root, path);
    if (part && hasUnknownCte(part)) return true;
  }
  return false;
}

/** Dovecot sends a decoded part as literal8 when it was base64 or quoted-printable, or holds NULs. */
function needsLiteral8(data: MessageData, path: number[], content: Buffer): boolean {
  const part = path.length > 0 ? findPart(data.root, path) : null;
  const encoding = (part?.encoding ?? '').toLowerCase();
  return encoding === 'base64' || encoding === 'quoted-printable' || hasNul(content);
}

function sumSizes(a: PartSize, b: PartSize): PartSize {
  return { physical: a.physical + b.physical, virtual: a.virtual + b.virtual, lines: a.lines + b.lines };
}

/** The IMAP-form size of a section range from the MIME tree (saves scanning for bare LFs). */
function knownSectionSize(root: MimePart, spec: SectionSpec): PartSize | undefined {
  const part = findPart(root, spec.path);
  if (!part) return undefined;
  const message = spec.path.length > 0 && spec.kind !== 'full' && spec.kind !== 'mime' ? part.message : part;
  switch (spec.kind) {
    case 'full': return spec.path.length === 0 ? sumSizes(root.header, root.body) : part.body;
    case 'mime': return part.header;
    case 'header': return message?.header;
    case 'text': return message?.body;
    default: return undefined;
  }
}

function inlineItem(item: InlineItem, data: MessageData, seqRecent: boolean): string {
  const meta = data.meta;
  switch (item.type) {
    case 'UID': return `UID ${meta.uid}`;
    case 'FLAGS': return `FLAGS ${formatFlagList(meta.flags, seqRecent)}`;
    case 'RFC822.SIZE': return `RFC822.SIZE ${meta.size}`;
    case 'MODSEQ': return `MODSEQ (${meta.modseq})`;
    case 'SAVEDATE': return `SAVEDATE "${formatImapDateTime(meta.saveDate, -meta.saveDate.getTimezoneOffset())}"`;
    // RFC 8474 §5.1: the content GUID (shared by copies); no thread ids, so THREADID is NIL.
    case 'EMAILID': return `EMAILID (${meta.guid})`;
    case 'THREADID': return 'THREADID NIL';
    // RFC 8970 §3: computed and kept on request; LAZY answers NIL unless kept (preview-cache.ts).
    case 'PREVIEW': {
      const cache = previewCacheFor(data.store);
      if (item.lazy && cache.get(meta.guid) === undefined) {
        cache.computeLater(meta);
        return 'PREVIEW NIL';
      }
      const text = formatString(cache.compute(meta, () => snippet(data.body, data.root)));
      return item.snippet ? `SNIPPET (FUZZY ${text})` : `PREVIEW ${text}`;
    }
    // Like Dovecot on maildir: the internal date in the server's time zone.
    case 'INTERNALDATE': return `INTERNALDATE "${formatImapDateTime(meta.internalDate, -meta.internalDate.getTimezoneOffset())}"`;
    case 'ENVELOPE': return `ENVELOPE ${formatEnvelope(data.root.envelope ?? {})}`;
    case 'BODY': return `BODY ${formatBodyStructure(data.root, false)}`;
    case 'BODYSTRUCTURE': return `BODYSTRUCTURE ${formatBodyStructure(data.root, true)}`;
    case 'BINARY.SIZE': {
      const content = binaryContent(data, item.part);
      return `${item.responseName} ${content ? content.length : imapSize(data)}`;
    }
  }
}

function imapSize(data: MessageData): number {
  return knownSectionSize(data.root, { path: [], kind: 'full' })!.virtual;
}

async function writeLiteralItem(ctx: FetchContext, item: LiteralItem, data: MessageData, separator: string): Promise<void> {
  await ctx.out.text(`${separator}${item.name} `);
  if (item.kind === 'binary') {
    const content = await evaluateWhenReady(() => binaryContent(data, item.part));
    if (content) return writeBufferLiteral(ctx.out, content, item.partial, needsLiteral8(data, item.part, content));
    const body = await data.reader();
    return writeRangeLiteral(ctx.out, body, { start: 0, end: body.size, known: knownSectionSize(data.root, { path: [], kind: 'full' }) }, item.partial);
  }
  const root = await evaluateWhenReady(() => data.root);
  const resolved = resolveSection(root, item.spec);
  if (resolved.type === 'empty') return writeBufferLiteral(ctx.out, Buffer.alloc(0), null);
  if (resolved.type === 'header-fields') return writeBufferLiteral(ctx.out, await evaluateWhenReady(() => readSection(data.body, root, item.spec)), item.partial);
  return writeRangeLiteral(ctx.out, await data.reader(), { start: resolved.start, end: resolved.end, known: knownSectionSize(root, item.spec) }, item.partial);
}

function inlinePart(plan: FetchPlan, data: MessageData, recent: boolean, implicitFlags: boolean): string {
  let line = '';
  for (const item of plan.inline) line += (line ? ' ' : '') + inlineItem(item, data, recent);
  if (implicitFlags && !plan.hasFlags) line += (line ? ' ' : '') + `FLAGS ${formatFlagList(data.meta.flags, recent)}`;
  if (plan.addModseq) line += (line ? ' ' : '') + `MODSEQ (${data.meta.modseq})`;
  return line;
}

/**
 * Writes `* seq FETCH (...)` for one message to ctx.out (batched: call ctx.out.flush() before the
 * tagged reply). `implicitFlags`: the caller has just set \Seen on this message, so FLAGS goes into
 * the response even when not asked for.
 */
export async function renderFetch(ctx: FetchContext, message: FetchMessage, plan: FetchPlan, implicitFlags = false): Promise<void> {
  const data = new MessageData(ctx.store, message.meta);
  // Synchronous over the message's data; run again once an asynchronous store has read it.
  const line = await evaluateWhenReady(() =>
    plan.hasBinary && binaryItemsBlocked(plan, data) ? null : inlinePart(plan, data, ctx.recentUids.has(message.meta.uid), implicitFlags),
  );
  if (line === null) {
    ctx.unknownCte = true;
    return;
  }
  if (plan.literals.length === 0) {
    await ctx.out.text(`* ${message.seq} FETCH (${line})\r\n`);
    return;
  }
  await ctx.out.text(`* ${message.seq} FETCH (${line}`);
  let separator = line === '' ? '' : ' ';
  for (const item of plan.literals) {
    await writeLiteralItem(ctx, item, data, separator);
    separator = ' ';
  }
  await ctx.out.text(')\r\n');
}

/**
 * Renders every message in order. Metadata-only plans build lines without touching bodies and let
 * the batcher pack them; `implicitFlagsUids` are the messages whose \Seen the caller just set.
 */
export async function renderFetchAll(ctx: FetchContext, messages: readonly FetchMessage[], plan: FetchPlan, implicitFlagsUids?: ReadonlySet<number>): Promise<void> {
  if (!plan.needsMime && !plan.needsBody) {
    const recent = ctx.recentUids;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const data = new MessageData(ctx.store, m.meta);
      const pending = ctx.out.text(`* ${m.seq} FETCH (${inlinePart(plan, data, recent.has(m.meta.uid), implicitFlagsUids?.has(m.meta.uid) ?? false)})\r\n`);
      if (pending) await pending;
    }
    return;
  }
  for (const m of messages) await renderFetch(ctx, m, plan, implicitFlagsUids?.has(m.meta.uid) ?? false);
}

/**
 * One flags-only response per index for renderFlagsRows(): from listMessageFlags() rows or straight
 * from the session's view (no per-message objects either way).
 */
export interface FlagsRows {
  readonly length: number;
  seq(i: number): number;
  uid(i: number): number;
  /** Stored flags; lists shared between messages are rendered once. */
  flags(i: number): readonly string[];
  size(i: number): number;
  modseq(i: number): number;
}

const UID = 0;
const FLAGS = 1;
const SIZE = 2;
const MODSEQ = 3;

/** The fast path for a `flagsOnly` plan, over listMessageFlags() rows (no per-message objects). */
export function renderFetchFlagsOnly(ctx: FetchContext, messages: readonly { seq: number; meta: MessageFlags }[], plan: FetchPlan, implicitFlagsUids?: ReadonlySet<number>): Promise<void> {
  const rows: FlagsRows = {
    length: messages.length,
    seq: (i) => messages[i]!.seq,
    uid: (i) => messages[i]!.meta.uid,
    flags: (i) => messages[i]!.meta.flags,
    size: (i) => messages[i]!.meta.size,
    modseq: (i) => messages[i]!.meta.modseq,
  };
  return renderFlagsRows(ctx, rows, plan, implicitFlagsUids);
}

/**
 * Writes `* seq FETCH (...)` for every row of a `flagsOnly` plan. The FLAGS item of a flag list is
 * formatted once per distinct list (by identity) and reused for every message that shares it.
 */
export async function renderFlagsRows(ctx: FetchContext, rows: FlagsRows, plan: FetchPlan, implicitFlagsUids?: ReadonlySet<number>): Promise<void> {
  if (!plan.flagsOnly) throw new Error('renderFetchFlagsOnly needs a plan with only UID, FLAGS, RFC822.SIZE and MODSEQ');
  const recent = ctx.recentUids;
  const checkRecent = recent.size > 0;
  const items = plan.inline.map((i) => (i.type === 'UID' ? UID : i.type === 'FLAGS' ? FLAGS : i.type === 'RFC822.SIZE' ? SIZE : MODSEQ));
  const implicit = !plan.hasFlags && implicitFlagsUids !== undefined && implicitFlagsUids.size > 0 ? implicitFlagsUids : null;
  const addModseq = plan.addModseq;
  const formatted = new Map<readonly string[], string>();
  const flagsItem = (flags: readonly string[], isRecent: boolean): string => {
    if (isRecent) return 'FLAGS ' + formatFlagList(flags, true);
    let f = formatted.get(flags);
    if (f === undefined) formatted.set(flags, (f = 'FLAGS ' + formatFlagList(flags, false)));
    return f;
  };
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    const uid = rows.uid(i);
    const isRecent = checkRecent && recent.has(uid);
    let line = '* ' + rows.seq(i) + ' FETCH (';
    for (let k = 0; k < items.length; k++) {
      if (k > 0) line += ' ';
      switch (items[k]) {
        case UID: line += 'UID ' + uid; break;
        case FLAGS: line += flagsItem(rows.flags(i), isRecent); break;
        case SIZE: line += 'RFC822.SIZE ' + rows.size(i); break;
        default: line += 'MODSEQ (' + rows.modseq(i) + ')';
      }
    }
    if (implicit?.has(uid)) line += (items.length > 0 ? ' ' : '') + flagsItem(rows.flags(i), isRecent);
    if (addModseq) line += (items.length > 0 || implicit?.has(uid) ? ' ' : '') + 'MODSEQ (' + rows.modseq(i) + ')';
    const pending = ctx.out.text(line + ')\r\n');
    if (pending) await pending;
  }
}
