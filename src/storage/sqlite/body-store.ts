// Message bodies in fixed-size chunks. better-sqlite3 cannot stream a BLOB, so a body is split into
// `chunk_size` pieces: chunk 0 inline in `body.first_chunk` (one row for a typical message),
// chunks 1.. in `body_chunk`. A range read loads only the chunks it covers. Bodies are shared by
// COPY and freed when the last message referencing them is expunged (refcount).
// Large bodies are files instead (body.file, see body-files.ts): the row keeps size, refcount and
// MIME structure, the bytes are read with positional reads.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FileBodyReader, type BodyFiles } from './body-files.js';
import type { StatementCache } from './sqlite.js';
import { StorageError, type SyncBodyReader as BodyReader, type SpooledContent } from '../types.js';

export type BodyContent = Buffer | SpooledContent;

export class BodyStore {
  constructor(
    private readonly stmts: StatementCache,
    private readonly chunkBytes: number,
    readonly files: BodyFiles,
  ) {}

  /** Inserts a row for a durable body file (call inside a transaction). Returns its id. */
  insertFileRow(name: string, size: number, mimeStructure: unknown): number {
    const mime = mimeStructure === undefined ? null : JSON.stringify(mimeStructure);
    const r = this.stmts
      .get('INSERT INTO body (size, chunk_size, refcount, first_chunk, mime_structure, file) VALUES (?, ?, 1, ?, ?, ?)')
      .run(size, this.chunkBytes, EMPTY, mime, name);
    return Number(r.lastInsertRowid);
  }

  /** Size of the content without reading it. */
  static sizeOf(content: BodyContent): number {
    return Buffer.isBuffer(content) ? content.length : content.size;
  }

  /** Inserts a body with refcount 1 (call inside a transaction). Returns its id. */
  insert(content: BodyContent, mimeStructure: unknown): number {
    const mime = mimeStructure === undefined ? null : JSON.stringify(mimeStructure);
    if (Buffer.isBuffer(content)) return this.insertBuffer(content, mime);
    return this.insertFile(content.path, content.size, mime);
  }

  private insertBuffer(buf: Buffer, mime: string | null): number {
    const cs = this.chunkBytes;
    const id = this.insertHead(buf.length, buf.subarray(0, cs), mime);
    for (let seq = 1; seq * cs < buf.length; seq++) this.insertChunk(id, seq, buf.subarray(seq * cs, (seq + 1) * cs));
    return id;
  }

  /** Reads a spooled file one chunk at a time: never the whole message in memory. */
  private insertFile(path: string, size: number, mime: string | null): number {
    const fd = openSync(path, 'r');
    try {
      const actual = fstatSync(fd).size;
      if (actual !== size) {
        throw new StorageError('PARAMETERS', `Spooled message ${path} is ${actual} bytes, expected ${size}`);
      }
      const cs = this.chunkBytes;
      const chunk = Buffer.allocUnsafe(Math.min(cs, Math.max(size, 1)));
      let id = 0;
      for (let seq = 0, pos = 0; seq === 0 || pos < size; seq++) {
        const want = Math.min(cs, size - pos);
        let got = 0;
        while (got < want) {
          const n = readSync(fd, chunk, got, want - got, pos + got);
          if (n === 0) throw new StorageError('PARAMETERS', `Spooled message ${path} ended early`);
          got += n;
        }
        // SQLite copies bound blobs, so one buffer can be reused for every chunk.
        const data = chunk.subarray(0, want);
        if (seq === 0) id = this.insertHead(size, data, mime);
        else this.insertChunk(id, seq, data);
        pos += want;
      }
      return id;
    } finally {
      closeSync(fd);
    }
  }

  private insertHead(size: number, first: Buffer, mime: string | null): number {
    const r = this.stmts
      .get('INSERT INTO body (size, chunk_size, refcount, first_chunk, mime_structure) VALUES (?, ?, 1, ?, ?)')
      .run(size, this.chunkBytes, first, mime);
    return Number(r.lastInsertRowid);
  }

  private insertChunk(bodyId: number, seq: number, data: Buffer): void {
    this.stmts.get('INSERT INTO body_chunk (body_id, seq, data) VALUES (?, ?, ?)').run(bodyId, seq, data);
  }

  addRef(bodyId: number): void {
    this.stmts.get('UPDATE body SET refcount = refcount + 1 WHERE id = ?').run(bodyId);
  }

  /**
   * Drops one reference; frees the body and its chunks with the last one. Returns the name of the
   * body file to unlink once the transaction is durably committed, if the freed body had one.
   */
  release(bodyId: number): string | null {
    const row = this.stmts.get('UPDATE body SET refcount = refcount - 1 WHERE id = ? RETURNING refcount, file').get(bodyId) as
      | { refcount: number; file: string | null }
      | undefined;
    if (row && row.refcount <= 0) {
      if (row.file === null) this.stmts.get('DELETE FROM body_chunk WHERE body_id = ?').run(bodyId);
      this.stmts.get('DELETE FROM body WHERE id = ?').run(bodyId);
      return row.file;
    }
    return null;
  }

  getMimeStructure(bodyId: number): unknown {
    const row = this.stmts.get('SELECT mime_structure FROM body WHERE id = ?').get(bodyId) as
      | { mime_structure: string | null }
      | undefined;
    if (!row) throw expunged(bodyId);
    return row.mime_structure === null ? undefined : (JSON.parse(row.mime_structure) as unknown);
  }

  setMimeStructure(bodyId: number, mimeStructure: unknown): void {
    const r = this.stmts.get('UPDATE body SET mime_structure = ? WHERE id = ?').run(JSON.stringify(mimeStructure), bodyId);
    if (r.changes === 0) throw expunged(bodyId);
  }

  open(bodyId: number): BodyReader {
    const row = this.stmts.get('SELECT size, chunk_size, file FROM body WHERE id = ?').get(bodyId) as
      | { size: number; chunk_size: number; file: string | null }
      | undefined;
    if (!row) throw expunged(bodyId);
    if (row.file !== null) return new FileBodyReader(bodyId, row.size, this.files.pathOf(row.file), row.chunk_size);
    return new ChunkedBodyReader(this.stmts, bodyId, row.size, row.chunk_size);
  }

  /** open() and getMimeStructure() in one query; the reader keeps chunk 0 (no second read). */
  openWithStructure(bodyId: number): { body: BodyReader; mimeStructure: unknown } {
    const row = this.stmts.get('SELECT size, chunk_size, first_chunk, mime_structure, file FROM body WHERE id = ?').get(bodyId) as
      | { size: number; chunk_size: number; first_chunk: Buffer; mime_structure: string | null; file: string | null }
      | undefined;
    if (!row) throw expunged(bodyId);
    return {
      body:
        row.file !== null
          ? new FileBodyReader(bodyId, row.size, this.files.pathOf(row.file), row.chunk_size)
          : new ChunkedBodyReader(this.stmts, bodyId, row.size, row.chunk_size, row.first_chunk),
      mimeStructure: row.mime_structure === null ? undefined : (JSON.parse(row.mime_structure) as unknown),
    };
  }
}

const EMPTY = Buffer.alloc(0);

function expunged(bodyId: number): StorageError {
  return new StorageError('EXPUNGEISSUED', `Message body ${bodyId} has been expunged`);
}

class ChunkedBodyReader implements BodyReader {
  constructor(
    private readonly stmts: StatementCache,
    readonly bodyId: number,
    readonly size: number,
    private readonly chunkSize: number,
    /** Chunk 0 when the caller already read it with the body row. */
    private readonly firstChunk?: Buffer,
  ) {}

  read(offset: number, length: number): Buffer {
    const parts = [...this.slices(offset, length)];
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  *slices(offset: number, length: number): IterableIterator<Buffer> {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
      throw new StorageError('PARAMETERS', `Invalid body range ${offset}+${length}`);
    }
    const end = Math.min(this.size, offset + length);
    if (offset >= end) return;
    const cs = this.chunkSize;
    for (let seq = Math.floor(offset / cs); seq * cs < end; seq++) {
      const chunk = this.chunk(seq);
      const start = seq * cs;
      yield chunk.subarray(Math.max(0, offset - start), Math.min(chunk.length, end - start));
    }
  }

  private chunk(seq: number): Buffer {
    if (seq === 0 && this.firstChunk) return this.firstChunk;
    const row = (
      seq === 0
        ? this.stmts.get('SELECT first_chunk AS data FROM body WHERE id = ?').get(this.bodyId)
        : this.stmts.get('SELECT data FROM body_chunk WHERE body_id = ? AND seq = ?').get(this.bodyId, seq)
    ) as { data: Buffer } | undefined;
    if (!row) throw expunged(this.bodyId);
    return row.data;
  }
}
