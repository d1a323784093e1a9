// The connections that have not logged in yet, oldest first, bounded by
// `service imap-login { client_limit }`. When it is full, the oldest is dropped to admit the new
// one, as Dovecot's login processes do (login-common/client-common.c, client_destroy_oldest): a
// flood of idle or slow connections then only ever pushes out other such connections, and a real
// user still gets in. Logged-in sessions are not in the queue, so they are never dropped for it.
// A connection counts from the TCP accept, TLS handshake included (imaps), as in Dovecot.

export class LoginQueue {
  /** Each waiting connection's drop function; a Set iterates in insertion order (oldest first). */
  private readonly waiting = new Set<() => void>();
  private lastWarning = -Infinity;

  constructor(
    public limit: number,
    /** Told when the limit is reached (at most once a minute). */
    private readonly onFull: (limit: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Makes room (dropping the oldest waiting connections) and queues a new one; `drop` ends it if
   * it has to make room in turn. Returns the function that takes it out of the queue (logged in,
   * closed, or handed on), which is safe to call more than once.
   */
  admit(drop: () => void): () => void {
    if (this.waiting.size >= this.limit) {
      const now = this.now();
      if (now - this.lastWarning >= 60_000) {
        this.lastWarning = now;
        this.onFull(this.limit);
      }
      for (const oldest of this.waiting) {
        if (this.waiting.size < this.limit) break;
        this.waiting.delete(oldest);
        oldest();
      }
    }
    // A function object of its own, so that the same `drop` queued twice is two entries.
    const entry = () => drop();
    this.waiting.add(entry);
    return () => {
      this.waiting.delete(entry);
    };
  }

  clear(): void {
    this.waiting.clear();
  }
}
