// Streams a big literal (a FETCH BODY[] of a 50 MB message) to the socket in chunks, waiting for
// 'drain' when the socket's buffer is full, so memory stays bounded whatever the message size.
import type { Writable } from 'node:stream';

/** What storage hands out for a message body (see storage `BodyReader`). */
export interface LiteralSource {
  size: number;
  read(offset: number, length: number): Buffer;
}

export const DEFAULT_WRITE_CHUNK = 64 * 1024;

function waitForDrain(dest: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      dest.off('drain', onDrain);
      dest.off('close', onClose);
      dest.off('error', onError);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('Connection closed while writing a literal'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    dest.on('drain', onDrain);
    dest.on('close', onClose);
    dest.on('error', onError);
  });
}

/** Writes `length` bytes of `source` from `offset` (default: all), honouring backpressure. */
export async function writeSourceRange(dest: Writable, source: LiteralSource, offset = 0, length = source.size - offset, chunkSize = DEFAULT_WRITE_CHUNK): Promise<void> {
  const end = Math.min(source.size, offset + Math.max(0, length));
  for (let pos = offset; pos < end; ) {
    if (dest.destroyed) throw new Error('Connection closed while writing a literal');
    const chunk = source.read(pos, Math.min(chunkSize, end - pos));
    if (chunk.length === 0) throw new Error('Literal source ended early');
    pos += chunk.length;
    if (!dest.write(chunk)) await waitForDrain(dest);
  }
}

/**
 * Writes `{n}\r\n` and the bytes (the partial range when given; RFC 3501 §6.4.5 `<offset.length>`
 * truncates to what exists). `literal8` writes `~{n}` (RFC 3516 BINARY).
 */
export async function writeLiteral(dest: Writable, source: LiteralSource, range?: { offset: number; length: number }, literal8 = false): Promise<void> {
  const offset = Math.min(range?.offset ?? 0, source.size);
  const length = Math.min(range ? range.length : source.size, source.size - offset);
  const header = `${literal8 ? '~' : ''}{${length}}\r\n`;
  if (!dest.write(header)) await waitForDrain(dest);
  await writeSourceRange(dest, source, offset, length);
}
