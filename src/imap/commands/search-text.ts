// Decoded, case-folded message text for SEARCH HEADER/FROM/.../BODY/TEXT, cached per stored body
// in an LRU bounded by bytes: bodies are shared by COPY and never change, so the body id is a
// stable key, and a repeated `SEARCH TEXT` over a large mailbox reads no body twice.
import { decodeHeaderText } from '../../mime/content-type.js';
import { bodyText } from '../../mime/decode.js';
import { parseHeaderFields } from '../../mime/header.js';
import { readRange } from '../../mime/source.js';
import type { MessageMeta } from '../../storage/types.js';
import { loadMimeStructure, type MessageBodyStore } from './fetch-mime.js';

/**
 * Comparison form of text (Dovecot compares with i;unicode-casemap: decomposed, case-folded).
 * NFKD first so `cafe` finds `café` like Dovecot's decomposed titlecase; upper then lower folds
 * `ß` to `ss`.
 */
export function foldForSearch(s: string): string {
  // ASCII is the common case and needs no normalisation.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  return s.normalize('NFKD').toUpperCase().toLowerCase();
}

export interface MessageText {
  /** Lowercased field name → folded, decoded (RFC 2047), unfolded values. */
  headers: Map<string, string[]>;
  /** All header fields as `Name: value` lines, folded (TEXT searches headers too). */
  headerText: string;
  /** Decoded text of all text parts, folded; loaded on first use. */
  body(): string;
}

interface CacheEntry {
  headers: Map<string, string[]>;
  headerText: string;
  body: string | null;
  bytes: number;
}

/** LRU of decoded message text by body id, bounded by (approximate) bytes. One per user store. */
export class SearchTextCache {
  private readonly entries = new Map<number, CacheEntry>();
  private bytes = 0;

  constructor(readonly maxBytes = 32 * 1024 * 1024) {}

  get size(): number {
    return this.bytes;
  }

  get(bodyId: number): CacheEntry | undefined {
    const e = this.entries.get(bodyId);
    if (e) {
      this.entries.delete(bodyId);
      this.entries.set(bodyId, e);
    }
    return e;
  }

  set(bodyId: number, entry: CacheEntry): void {
    const old = this.entries.get(bodyId);
    if (old) { this.bytes -= old.bytes; this.entries.delete(bodyId); }
    if (entry.bytes > this.maxBytes) return;
    this.entries.set(bodyId, entry);
    this.bytes += entry.bytes;
    for (const [id, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= e.bytes;
    }
  }

  /** After body text was loaded into an entry: account for it (and evict if needed). */
  grew(bodyId: number, entry: CacheEntry, added: number): void {
    if (this.entries.get(bodyId) !== entry) return;
    this.set(bodyId, { ...entry, bytes: entry.bytes + added });
  }
}

// Strings are UTF-16 in memory: about two bytes per character.
const stringBytes = (s: string) => s.length * 2 + 32;

function loadHeaders(store: MessageBodyStore, meta: MessageMeta): CacheEntry {
  const body = store.openBody(meta.bodyId);
  const root = loadMimeStructure(store, meta, body);
  const block = readRange(body, root.headerStart, root.bodyStart);
  const headers = new Map<string, string[]>();
  let headerText = '';
  let bytes = 64;
  for (const f of parseHeaderFields(block)) {
    if (!f.hasColon) continue;
    const value = foldForSearch(decodeHeaderText(f.value.replace(/\r?\n(?=[ \t])/g, '')));
    const name = f.name.toLowerCase();
    const list = headers.get(name);
    if (list) list.push(value);
    else headers.set(name, [value]);
    headerText += `${name}: ${value}\n`;
    bytes += stringBytes(value) + stringBytes(name);
  }
  return { headers, headerText, body: null, bytes: bytes + stringBytes(headerText) };
}

/** The message's searchable text, from the cache when possible. */
export function messageText(store: MessageBodyStore, meta: MessageMeta, cache: SearchTextCache | undefined): MessageText {
  let entry = cache?.get(meta.bodyId);
  if (!entry) {
    entry = loadHeaders(store, meta);
    cache?.set(meta.bodyId, entry);
  }
  const e = entry;
  return {
    headers: e.headers,
    headerText: e.headerText,
    body() {
      if (e.body === null) {
        const reader = store.openBody(meta.bodyId);
        e.body = foldForSearch(bodyText(reader, loadMimeStructure(store, meta, reader)));
        cache?.grew(meta.bodyId, e, stringBytes(e.body));
      }
      return e.body;
    },
  };
}
