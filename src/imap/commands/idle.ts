// IDLE (RFC 2177): `+ idling`, then every change from another session of the user or from an
// LMTP delivery is announced at once (the store's change notices wake the session), until DONE.
import { AUTHENTICATED, bad, ok, type CommandHandler } from './types.js';

export const IDLE: CommandHandler<'IDLE'> = {
  states: AUTHENTICATED,
  async run(session) {
    session.respond('+ idling\r\n');
    // Listening before each look at the store: a change committed while the updates are being
    // read (the reads may wait for the store) wakes the next round instead of being missed.
    let wake = session.waitForChange();
    await session.flushUpdates(true);
    await session.afterUpdates();
    let finished = false;
    let line: string | null = null;
    const lineRead = session.client.readLine().then((l) => {
      finished = true;
      line = l;
    });
    // Dovecot's imap_idle_notify_interval: keep NAT boxes and clients from dropping the connection.
    const interval = session.settings.imap_idle_notify_interval;
    const keepalive = interval > 0 ? setInterval(() => session.respond('* OK Still here\r\n'), interval) : null;
    try {
      while (!finished) {
        await Promise.race([wake.promise, lineRead]);
        wake.cancel();
        if (session.client.isClosed) break;
        wake = session.waitForChange();
        await session.flushUpdates(true);
        await session.afterUpdates();
        await session.client.drain();
      }
    } finally {
      wake.cancel();
      if (keepalive) clearInterval(keepalive);
    }
    if (line === null) return null; // connection closed while idling
    if ((line as string).toUpperCase() !== 'DONE') return bad('Expected DONE.');
    return ok('Idle completed.');
  },
};
