// Decoded, case-folded message text for SEARCH HEADER/FROM/.../BODY/TEXT, cached per message
// content in an LRU bounded by bytes: the message GUID names the content (kept by COPY and MOVE,
// new for every saved message, as Dovecot's) and content never changes, so it is a stable key
// whatever the backend's body ids, and a repeated `SEARCH TEXT` over a large mailbox reads no body twice.
import { formatAddressesForSearch, parseAddressList } from '../../mime/address.js';
import { decodeHeaderText } from '../../mime/content-type.js';
import { bodyText } from '../../mime/decode.js';
import { parseHeaderFields } from '../../mime/header.js';
import { readRange } from '../../mime/source.js';
import type { MimePart } from '../../mime/types.js';
import type { SyncBodyReader, MessageMeta, UserStore } from '../../storage/types.js';
import { DataPending, isPromise, syncBody, then, type MaybePromise } from '../../storage/maybe-async.js';
import { loadMimeStructure, type MessageBodyStore } from './fetch-mime.js';

/** What SEARCH reads; with `openBodyWithStructure` a message costs one storage read instead of three. */
export type SearchBodyStore = MessageBodyStore & Partial<Pick<UserStore, 'openBodyWithStructure'>>;

/** True when every UTF-16 unit is ASCII (UTF-8 length = string length); native, no regex pass. */
function isAscii(s: string): boolean {
  return Buffer.byteLength(s, 'utf8') === s.length;
}

/**
 * Comparison form of text (Dovecot compares with i;unicode-casemap: decomposed, case-folded).
 * NFKD first so `cafe` finds `café` like Dovecot's decomposed titlecase; upper then lower folds
 * `ß` to `ss`.
 */
export function foldForSearch(s: string): string {
  // ASCII is the common case and needs no normalisation.
  if (isAscii(s)) return s.toLowerCase();
  return s.normalize('NFKD').toUpperCase().toLowerCase();
}

export interface MessageText {
  /** Lowercased field name → folded, decoded (RFC 2047), unfolded values. */
  headers: Map<string, string[]>;
  /** From/To/Cc/Bcc rewritten in one standard form (formatAddressesForSearch), decoded, folded. */
  addresses: Map<string, string[]>;
  /** All header fields as `Name: value` lines, folded (TEXT searches headers too). */
  headerText: string;
  /**
   * Decoded text of all text parts, folded; loaded on first use. Throws DataPending while an
   * asynchronous store reads it (evaluate again once it is ready).
   */
  body(): string;
}

interface CacheEntry {
  headers: Map<string, string[]>;
  addresses: Map<string, string[]>;
  headerText: string;
  body: string | null;
  bytes: number;
  /** The scan that last used the entry (SearchTextCache.beginScan). */
  scan: number;
}

/**
 * LRU of decoded message text by message GUID, bounded by (approximate) bytes. One per user store.
 * Scan-resistant: a search never evicts text it has itself read or used. When a mailbox's text is
 * larger than the budget, a repeated search keeps hitting the part that fits instead of evicting
 * each entry just before it would be needed (plain LRU under a cyclic scan hits nothing).
 */
export class SearchTextCache {
  private readonly entries = new Map<string, CacheEntry>();
  private bytes = 0;
  private scan = 0;

  constructor(readonly maxBytes = 32 * 1024 * 1024) {}

  get size(): number {
    return this.bytes;
  }

  /** Starts a search: what it touches from now on outranks everything older. */
  beginScan(): void {
    this.scan++;
  }

  get(guid: string): CacheEntry | undefined {
    const e = this.entries.get(guid);
    if (!e) return undefined;
    if (e.scan !== this.scan) {
      // Most recently used: once per scan is enough (a scan reads each body once).
      e.scan = this.scan;
      this.entries.delete(guid);
      this.entries.set(guid, e);
    }
    return e;
  }

  /** Adds a new entry if room can be made without evicting the current scan's text. */
  add(guid: string, entry: CacheEntry): void {
    const old = this.entries.get(guid);
    if (old) this.remove(guid, old);
    if (!this.makeRoom(entry.bytes, null)) return;
    entry.scan = this.scan;
    this.entries.set(guid, entry);
    this.bytes += entry.bytes;
  }

  /** After body text was loaded into an entry: account for it, or drop the entry if it cannot stay. */
  grew(guid: string, entry: CacheEntry, added: number): void {
    if (this.entries.get(guid) !== entry) return;
    if (!this.makeRoom(added, entry)) {
      this.remove(guid, entry);
      return;
    }
    entry.bytes += added;
    this.bytes += added;
  }

  private makeRoom(needed: number, keep: CacheEntry | null): boolean {
    if (needed > this.maxBytes) return false;
    for (const [id, e] of this.entries) {
      if (this.bytes + needed <= this.maxBytes) break;
      if (e === keep) continue;
      // Oldest first; from here on everything belongs to the running scan.
      if (e.scan === this.scan) return false;
      this.remove(id, e);
    }
    return this.bytes + needed <= this.maxBytes;
  }

  private remove(guid: string, e: CacheEntry): void {
    this.entries.delete(guid);
    this.bytes -= e.bytes;
  }
}

// V8 keeps ASCII text one byte per character, other text two; plus the string header.
const stringBytes = (s: string) => (isAscii(s) ? s.length : s.length * 2) + 32;

interface OpenedMessage {
  body: SyncBodyReader;
  root: MimePart;
}

/**
 * The body and its MIME tree: one storage read (chunk 0 included) when the store offers it.
 * Synchronous when the store is.
 */
function openMessage(store: SearchBodyStore, meta: MessageMeta): MaybePromise<OpenedMessage> {
  if (store.openBodyWithStructure) {
    return then(store.openBodyWithStructure(meta.bodyId), ({ body, mimeStructure }) =>
      then(syncBody(body), (source) =>
        mimeStructure !== undefined
          ? { body: source, root: mimeStructure as MimePart }
          : then(loadMimeStructure(store, meta, source), (root) => ({ body: source, root })),
      ),
    );
  }
  return then(store.openBody(meta.bodyId), (body) =>
    then(syncBody(body), (source) => then(loadMimeStructure(store, meta, source), (root) => ({ body: source, root }))),
  );
}

/** The fields SEARCH FROM/TO/CC/BCC look at (RFC 3501 §6.4.4). */
const ADDRESS_FIELDS = new Set(['from', 'to', 'cc', 'bcc']);

function loadHeaders(opened: OpenedMessage): CacheEntry {
  const block = readRange(opened.body, opened.root.headerStart, opened.root.bodyStart);
  const headers = new Map<string, string[]>();
  const addresses = new Map<string, string[]>();
  const lines: string[] = [];
  let bytes = 64;
  for (const f of parseHeaderFields(block)) {
    if (!f.hasColon) continue;
    const unfolded = f.value.replace(/\r?\n(?=[ \t])/g, '');
    const value = foldForSearch(decodeHeaderText(unfolded));
    const name = f.name.toLowerCase();
    if (ADDRESS_FIELDS.has(name)) {
      const rebuilt = foldForSearch(decodeHeaderText(formatAddressesForSearch(parseAddressList(unfolded))));
      const list = addresses.get(name);
      if (list) list.push(rebuilt);
      else addresses.set(name, [rebuilt]);
      bytes += stringBytes(rebuilt);
    }
    const list = headers.get(name);
    if (list) list.push(value);
    else headers.set(name, [value]);
    lines.push(`${name}: ${value}\n`);
    bytes += stringBytes(value) + stringBytes(name);
  }
  // One flat string (not a chain of concatenations): searched as is, counted as it is.
  const headerText = lines.join('');
  return { headers, addresses, headerText, body: null, bytes: bytes + stringBytes(headerText), scan: 0 };
}

/**
 * The message's searchable text, from the cache when possible. A message not cached is read from
 * storage once (header block and text parts); only text/* parts are decoded. Throws StorageError
 * EXPUNGEISSUED when the body was freed meanwhile.
 */
export function messageText(store: SearchBodyStore, meta: MessageMeta, cache: SearchTextCache | undefined): MaybePromise<MessageText> {
  const entry = cache?.get(meta.guid);
  if (entry) return textOf(store, meta, cache, entry, null);
  return then(openMessage(store, meta), (opened) => {
    const e = loadHeaders(opened);
    cache?.add(meta.guid, e);
    return textOf(store, meta, cache, e, opened);
  });
}

function textOf(store: SearchBodyStore, meta: MessageMeta, cache: SearchTextCache | undefined, e: CacheEntry, opened: OpenedMessage | null): MessageText {
  let reading: Promise<unknown> | null = null;
  const load = (o: OpenedMessage) => {
    opened = o;
    if (e.body !== null) return;
    e.body = foldForSearch(bodyText(o.body, o.root));
    cache?.grew(meta.guid, e, stringBytes(e.body));
  };
  return {
    headers: e.headers,
    addresses: e.addresses,
    headerText: e.headerText,
    body() {
      if (e.body === null) {
        if (reading) throw new DataPending(reading);
        const o = opened ?? openMessage(store, meta);
        if (isPromise(o)) throw new DataPending((reading = o.then(load)));
        load(o);
      }
      return e.body!;
    },
  };
}
