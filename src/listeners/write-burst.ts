// Responses written in one burst of work leave in one writev, as Dovecot corks a connection's
// output stream while it handles a command: one TCP segment instead of a write(2) and a segment
// per line (on loopback each costs both ends a wake-up). A burst is the callback that wrote
// first and the promise continuations it set off; the socket is uncorked once the microtask
// queue is empty, before the event loop waits again, so nothing is held back while a command
// waits for I/O. (A nextTick queued from plain code runs before the microtasks, which would
// split e.g. an IMAP command's untagged lines from its tagged OK; queued from a microtask it runs
// after all of them.)
import type net from 'node:net';

const corked = new WeakSet<net.Socket>();

/** Corks `socket` until the current burst ends (idempotent within a burst). */
export function corkForBurst(socket: net.Socket): void {
  if (corked.has(socket)) return;
  socket.cork();
  corked.add(socket);
  queueMicrotask(() =>
    process.nextTick(() => {
      corked.delete(socket);
      socket.uncork();
    }),
  );
}

/** Every write on `socket` joins its burst's writev (for a protocol library that writes itself). */
export function writeInBursts(socket: net.Socket): void {
  const write = socket.write as (...args: unknown[]) => boolean;
  socket.write = function (this: net.Socket, ...args: unknown[]): boolean {
    corkForBurst(this);
    return write.apply(this, args);
  } as net.Socket['write'];
}
