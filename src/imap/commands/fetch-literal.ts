// Streams a byte range of a stored message as an IMAP literal without holding it whole. Bytes go
// out in IMAP form, as Dovecot sends them: a bare LF becomes CRLF and NUL becomes 0x80 (see
// src/mime/section.ts toImapBytes). A <partial> counts in those converted bytes (RFC 3501 §6.4.5).
import type { PartSize } from '../../mime/types.js';
import type { ResponseBatcher } from './fetch-output.js';

/**
 * A body as storage hands it out (BodyReader: its reads may be asynchronous) or a Buffer-backed
 * equivalent.
 */
export interface RangeSource {
  readonly size: number;
  read(offset: number, length: number): Buffer | Promise<Buffer>;
  slices?(offset: number, length: number): Iterable<Buffer> | AsyncIterable<Buffer>;
}

const READ_CHUNK = 64 * 1024;

async function* rawSlices(source: RangeSource, start: number, end: number): AsyncGenerator<Buffer> {
  if (end <= start) return;
  if (source.slices) {
    yield* source.slices(start, end - start);
    return;
  }
  for (let pos = start; pos < end; ) {
    const chunk = await source.read(pos, Math.min(READ_CHUNK, end - pos));
    if (chunk.length === 0) return;
    pos += chunk.length;
    yield chunk;
  }
}

/** Converts one slice to IMAP form; `prevCr` says whether the byte before the slice was CR. */
function convertSlice(chunk: Buffer, prevCr: boolean): Buffer {
  let needs = chunk.indexOf(0) >= 0;
  if (!needs) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
      if (i === 0 ? !prevCr : chunk[i - 1] !== 13) { needs = true; break; }
    }
  }
  if (!needs) return chunk;
  const out = Buffer.allocUnsafe(chunk.length * 2);
  let o = 0;
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i]!;
    if (c === 0) out[o++] = 0x80;
    else if (c === 10 && (i === 0 ? !prevCr : chunk[i - 1] !== 13)) { out[o++] = 13; out[o++] = 10; }
    else out[o++] = c;
  }
  return out.subarray(0, o);
}

/**
 * The range [start, end) in IMAP form, slice by slice. A range start counts as a line start; pass
 * `noBareLf` when the range is known to hold none (a LF at the start is then not expanded).
 */
export async function* imapSlices(source: RangeSource, start: number, end: number, noBareLf = false): AsyncGenerator<Buffer> {
  let prevCr = noBareLf;
  for await (const chunk of rawSlices(source, start, end)) {
    if (chunk.length === 0) continue;
    yield convertSlice(chunk, prevCr);
    prevCr = noBareLf || chunk[chunk.length - 1] === 13;
  }
}

/**
 * Length of [start, end) in IMAP form. `known` (the part's sizes from the MIME tree) avoids the scan
 * when it describes exactly this range.
 */
export async function imapLength(source: RangeSource, start: number, end: number, known?: PartSize): Promise<number> {
  if (known && known.physical === end - start) return known.virtual;
  let n = 0;
  for await (const s of imapSlices(source, start, end)) n += s.length;
  return n;
}

export interface LiteralRange {
  start: number;
  end: number;
  /** IMAP-form sizes of exactly this range, when the MIME tree knows them. */
  known?: PartSize;
}

/**
 * Writes `{n}\r\n` and the range's bytes (or `<offset.length>` of them) to `out`, chunk by chunk with
 * backpressure. Without bare LFs the IMAP form has the stored length, so a partial reads only the
 * chunks it covers.
 */
export async function writeRangeLiteral(out: ResponseBatcher, source: RangeSource, range: LiteralRange, partial: { offset: number; length: number } | null): Promise<void> {
  const total = await imapLength(source, range.start, range.end, range.known);
  const offset = Math.min(partial?.offset ?? 0, total);
  const length = partial ? Math.min(partial.length, total - offset) : total;
  await out.text(`{${length}}\r\n`);
  if (length === 0) return;
  if (total === range.end - range.start) {
    // Same length in both forms: no bare LF, so offsets map 1:1 (only NULs may need replacing).
    const from = range.start + offset;
    for await (const s of imapSlices(source, from, from + length, true)) await out.bytes(s);
    return;
  }
  let skip = offset;
  let left = length;
  for await (const s of imapSlices(source, range.start, range.end)) {
    if (skip >= s.length) { skip -= s.length; continue; }
    const piece = s.subarray(skip, Math.min(s.length, skip + left));
    skip = 0;
    left -= piece.length;
    await out.bytes(piece);
    if (left === 0) break;
  }
}

/** Writes an in-memory value as a literal (`~{n}` for RFC 3516 literal8), with an optional partial. */
export async function writeBufferLiteral(out: ResponseBatcher, bytes: Buffer, partial: { offset: number; length: number } | null, literal8 = false): Promise<void> {
  const offset = Math.min(partial?.offset ?? 0, bytes.length);
  const piece = bytes.subarray(offset, partial ? Math.min(bytes.length, offset + partial.length) : bytes.length);
  await out.text(`${literal8 ? '~' : ''}{${piece.length}}\r\n`);
  if (piece.length > 0) {
    // Small values join the batch; big ones go out as their own write.
    if (piece.length < 4096) await out.text(piece.toString('latin1'));
    else await out.bytes(piece);
  }
}
