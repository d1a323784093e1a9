// Per-user exclusion for operations that replace a user's whole store while the server runs
// (`roost restore`): like dsync's lock on a user, nothing may read or write the store while it is
// swapped, or a session would see a mix of old and new. Logins and deliveries enter the user
// while they open the store; a lock refuses new entries (the protocols answer with a temporary
// failure, so clients and MTAs retry) and waits until the entries in progress have left.
export class UserLocks {
  private readonly locked = new Map<string, number>();
  private readonly busy = new Map<string, number>();
  private readonly drained = new Map<string, (() => void)[]>();
  /** Per user: resolves when the newest lock is released (the next lock waits for it). */
  private readonly holders = new Map<string, Promise<void>>();

  isLocked(username: string): boolean {
    return (this.locked.get(username) ?? 0) > 0;
  }

  /** Marks work on the user's store; null (nothing marked) while the user is locked. */
  enter(username: string): (() => void) | null {
    if (this.isLocked(username)) return null;
    this.busy.set(username, (this.busy.get(username) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const n = (this.busy.get(username) ?? 1) - 1;
      if (n > 0) return void this.busy.set(username, n);
      this.busy.delete(username);
      for (const wake of this.drained.get(username) ?? []) wake();
      this.drained.delete(username);
    };
  }

  /**
   * Refuses new entries now; resolves, once the entries in progress have left and an earlier
   * lock of the same user was released (two restores never overlap), with the unlock.
   */
  async lock(username: string): Promise<() => void> {
    this.locked.set(username, (this.locked.get(username) ?? 0) + 1);
    const before = this.holders.get(username) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chain = before.then(() => mine);
    this.holders.set(username, chain);
    let unlocked = false;
    const unlock = () => {
      if (unlocked) return;
      unlocked = true;
      const n = (this.locked.get(username) ?? 1) - 1;
      if (n > 0) this.locked.set(username, n);
      else this.locked.delete(username);
      release();
      if (this.holders.get(username) === chain) this.holders.delete(username);
    };
    await before;
    if (this.busy.has(username)) {
      await new Promise<void>((resolve) => {
        const waiting = this.drained.get(username) ?? [];
        waiting.push(resolve);
        this.drained.set(username, waiting);
      });
    }
    return unlock;
  }
}
