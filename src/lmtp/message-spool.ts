// Receiving DATA: the trace headers first, then the message bytes, in memory up to a threshold and
// in a temp file beyond it, so a large message never sits whole in RAM. Above the size limit the
// bytes are counted and dropped (the client still sends them all). A stream that ends in an error
// (client gone before the final dot) leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { DeliveryContent } from '../mail-user/delivery.js';

export interface SpoolOptions {
  /** Bytes written before the message (the added trace headers). */
  prefix: Buffer;
  /** Largest message accepted (bytes as received, without the prefix); 0 = unlimited. */
  maxBytes: number;
  /** Above this many bytes the message moves to a temp file. */
  memoryLimit: number;
  spoolDir: string;
}

export type SpooledMessage =
  | { tooBig: false; content: DeliveryContent; size: number; dispose(): Promise<void> }
  | { tooBig: true; size: number; dispose(): Promise<void> };

const nothing = async () => {};

export async function spoolMessage(stream: Readable, opts: SpoolOptions): Promise<SpooledMessage> {
  const chunks: Buffer[] = [opts.prefix];
  let buffered = opts.prefix.length;
  let received = 0;
  let file: FileHandle | null = null;
  let path = '';
  let tooBig = false;
  const removeFile = async () => {
    if (file) await file.close().catch(() => {});
    file = null;
    if (path) await rm(path, { force: true });
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (tooBig) continue;
      if (opts.maxBytes > 0 && received > opts.maxBytes) {
        tooBig = true;
        chunks.length = 0;
        await removeFile();
        continue;
      }
      if (!file && buffered + chunk.length > opts.memoryLimit) {
        mkdirSync(opts.spoolDir, { recursive: true });
        path = join(opts.spoolDir, `lmtp-${process.pid}-${randomBytes(8).toString('hex')}.eml`);
        file = await open(path, 'wx', 0o600);
        await file.writev(chunks);
        chunks.length = 0;
      }
      if (file) await file.write(chunk);
      else chunks.push(chunk);
      buffered += chunk.length;
    }
  } catch (err) {
    await removeFile();
    throw err;
  }
  if (tooBig) return { tooBig: true, size: received, dispose: nothing };
  if (file) {
    await (file as FileHandle).close();
    file = null;
    return { tooBig: false, content: { path, size: buffered }, size: received, dispose: removeFile };
  }
  return { tooBig: false, content: Buffer.concat(chunks, buffered), size: received, dispose: nothing };
}
