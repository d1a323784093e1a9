// Message bodies in PostgreSQL, so that one backup of the database covers all the mail. A body is
// one `body` row and its `body_chunk` rows of BODY_CHUNK_SIZE bytes: a partial FETCH
// (BODY[]<0.1024>, BINARY.PEEK[1]) loads only the chunks its range covers, and sends only the
// bytes of the range (substring in the query).
//
// One body serves every message that holds the same delivery (LMTP to several recipients, COPY),
// as SQLite's hard-linked body files do: insert the body once, then each message row names its id.
// The schema keeps the reference count (message triggers) and deletes a body with its last
// message; a body no message took up by the end of its transaction is deleted at COMMIT.
import { StorageError } from '../types.js';

/** 256 KiB: big enough that a whole small message is one row, small enough for partial reads. */
export const BODY_CHUNK_SIZE = 256 * 1024;
/** Chunks sent in one INSERT when writing a large body (bounds one statement's size). */
const CHUNKS_PER_INSERT = 16;

/** What PgsqlPool and PgsqlClient both offer. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface WriteBodyOptions {
  /** JSON-able parsed MIME structure (src/mime), stored beside the body. */
  mimeStructure?: unknown;
  chunkSize?: number;
}

/**
 * Stores `data` as a new body in the caller's transaction and returns its id; insert the message
 * rows naming it in the same transaction.
 */
export async function writeBody(client: Queryable, data: Buffer, opts: WriteBodyOptions = {}): Promise<number> {
  const chunkSize = opts.chunkSize ?? BODY_CHUNK_SIZE;
  const chunks = Math.ceil(data.length / chunkSize);
  const batch = (first: number) => {
    const seqs: number[] = [];
    const parts: Buffer[] = [];
    for (let seq = first; seq < Math.min(chunks, first + CHUNKS_PER_INSERT); seq++) {
      seqs.push(seq);
      parts.push(data.subarray(seq * chunkSize, (seq + 1) * chunkSize));
    }
    return [seqs, parts] as const;
  };
  // The body row and its first chunks in one statement (one round trip for a typical message).
  const [seqs, parts] = batch(0);
  const { rows } = await client.query<{ id: number }>(
    `WITH b AS (INSERT INTO body (size, chunk_size, mime_structure, created_at) VALUES ($1, $2, $3, $4) RETURNING id),
       c AS (INSERT INTO body_chunk (body_id, seq, data) SELECT b.id, s, d FROM b, unnest($5::int[], $6::bytea[]) AS c (s, d))
     SELECT id FROM b`,
    [data.length, chunkSize, opts.mimeStructure === undefined ? null : JSON.stringify(opts.mimeStructure), Date.now(), seqs, parts],
  );
  const bodyId = rows[0]!.id;
  for (let first = CHUNKS_PER_INSERT; first < chunks; first += CHUNKS_PER_INSERT) {
    const [seqs, parts] = batch(first);
    await client.query('INSERT INTO body_chunk (body_id, seq, data) SELECT $1, s, d FROM unnest($2::int[], $3::bytea[]) AS c (s, d)', [bodyId, seqs, parts]);
  }
  return bodyId;
}

/** A stored body, read by range (the async counterpart of the SQLite BodyReader). */
export interface PgsqlBodyReader {
  readonly bodyId: number;
  readonly size: number;
  readonly mimeStructure: unknown;
  /** `length` bytes at `offset` (fewer at the end, empty past it); EXPUNGEISSUED once the body is gone. */
  read(offset: number, length: number): Promise<Buffer>;
  /** The same range, one stored chunk at a time (stream a large FETCH). */
  slices(offset: number, length: number): AsyncIterable<Buffer>;
}

const gone = () => new StorageError('EXPUNGEISSUED', 'Message was expunged');

/**
 * Opens body `bodyId` for reading; EXPUNGEISSUED if it no longer exists. With `storeId`, only a
 * body that a message of that store holds (a user's store reads no other user's bodies).
 */
export async function openBody(db: Queryable, bodyId: number, storeId?: number): Promise<PgsqlBodyReader> {
  const { rows } = await db.query<{ size: number; chunk_size: number; mime_structure: string | null }>(
    storeId === undefined
      ? 'SELECT size, chunk_size, mime_structure FROM body WHERE id = $1'
      : `SELECT size, chunk_size, mime_structure FROM body WHERE id = $1 AND EXISTS
           (SELECT 1 FROM message m JOIN mailbox b ON b.id = m.mailbox_id WHERE m.body_id = $1 AND b.store_id = $2)`,
    storeId === undefined ? [bodyId] : [bodyId, storeId],
  );
  const row = rows[0];
  if (!row) throw gone();
  const { size, chunk_size: chunkSize } = row;

  /** The bytes of [start, end) held by chunks first..last, each row already cut to the range. */
  const fetch = async (start: number, end: number): Promise<Buffer[]> => {
    const first = Math.floor(start / chunkSize);
    const last = Math.floor((end - 1) / chunkSize);
    const res = await db.query<{ seq: number; part: Buffer }>(
      `SELECT seq, substring(data FROM (greatest($2::bigint - seq::bigint * $4, 0) + 1)::int
                                FOR (least($3::bigint - seq::bigint * $4, $4) - greatest($2::bigint - seq::bigint * $4, 0))::int) AS part
         FROM body_chunk WHERE body_id = $1 AND seq BETWEEN $5 AND $6 ORDER BY seq`,
      [bodyId, start, end, chunkSize, first, last],
    );
    if (res.rows.length !== last - first + 1) throw gone();
    return res.rows.map((r) => r.part);
  };
  const clamp = (offset: number, length: number): [number, number] => {
    const start = Math.min(Math.max(0, offset), size);
    return [start, Math.min(size, start + Math.max(0, length))];
  };

  return {
    bodyId,
    size,
    mimeStructure: row.mime_structure === null ? undefined : JSON.parse(row.mime_structure),
    async read(offset, length) {
      const [start, end] = clamp(offset, length);
      if (start >= end) return Buffer.alloc(0);
      const parts = await fetch(start, end);
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    },
    async *slices(offset, length) {
      const [start, end] = clamp(offset, length);
      for (let at = start; at < end; ) {
        const next = Math.min(end, (Math.floor(at / chunkSize) + 1) * chunkSize);
        yield (await fetch(at, next))[0]!;
        at = next;
      }
    },
  };
}
