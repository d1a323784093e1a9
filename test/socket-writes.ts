// Counting what a server in this process writes to its client sockets: the writes reaching the
// server side of connections to `port` (net.Socket's _write and _writev) while `fn` runs.
import net from 'node:net';

/** Counts the writes reaching the server-side sockets of `port` while `fn` runs. */
export async function serverWrites(port: number, fn: () => Promise<unknown>): Promise<{ writes: number; bytes: string }> {
  const proto = net.Socket.prototype as unknown as {
    _write(chunk: Buffer, enc: string, cb: () => void): void;
    _writev(chunks: { chunk: Buffer }[], cb: () => void): void;
  };
  const { _write, _writev } = proto;
  let writes = 0;
  let bytes = '';
  proto._write = function (this: net.Socket, chunk, enc, cb) {
    if (this.localPort === port) {
      writes++;
      bytes += chunk.toString('latin1');
    }
    return _write.call(this, chunk, enc, cb);
  };
  proto._writev = function (this: net.Socket, chunks, cb) {
    if (this.localPort === port) {
      writes++;
      bytes += chunks.map((c) => c.chunk.toString('latin1')).join('');
    }
    return _writev.call(this, chunks, cb);
  };
  try {
    await fn();
  } finally {
    proto._write = _write;
    proto._writev = _writev;
  }
  return { writes, bytes };
}

