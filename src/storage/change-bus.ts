// Change notices for one user, delivered to every session of that user: synchronously (right after
// the commit) to listeners in this thread, and through a node:worker_threads BroadcastChannel named
// `roost-store:<username>` to the other threads (Lua workers, other event loops).
//
// One channel per user per thread: a BroadcastChannel does not receive its own messages, so notices
// posted here reach other threads only, and notices from other threads are re-emitted locally.
// Other processes are out of its reach: their changes come through the backend's change feed
// (change-feed.ts) as `elsewhere` notices.
import { BroadcastChannel } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { Logger } from '../log/logger.js';
import type { ChangeNotice } from './types.js';

const log = new Logger('storage: ');

export function channelName(username: string): string {
  return `roost-store:${username}`;
}

class UserBus {
  readonly local = new EventEmitter();
  private readonly channel: BroadcastChannel;
  refs = 0;

  constructor(readonly username: string) {
    this.local.setMaxListeners(0);
    this.channel = new BroadcastChannel(channelName(username));
    // Must not keep a process or worker alive by itself.
    (this.channel as unknown as { unref?: () => void }).unref?.();
    this.channel.onmessage = (ev: unknown) => {
      const data = (ev as { data?: unknown }).data;
      if (isNotice(data)) this.emitLocal(data);
    };
  }

  publish(n: ChangeNotice): void {
    this.emitLocal(n);
    this.channel.postMessage(n);
  }

  emitLocal(n: ChangeNotice): void {
    for (const l of this.local.listeners('change') as ((n: ChangeNotice) => void)[]) {
      try {
        l(n);
      } catch (e) {
        // A listener's bug must not undo or hide a committed change from other listeners.
        log.error(`change listener for ${this.username} failed: ${(e as Error).stack ?? String(e)}`);
      }
    }
  }

  close(): void {
    this.channel.close();
  }
}

function isNotice(v: unknown): v is ChangeNotice {
  return typeof v === 'object' && v !== null && typeof (v as ChangeNotice).kind === 'string' && 'highestModseq' in v;
}

const buses = new Map<string, UserBus>();

/** A handle on the user's bus; release it when the store closes (the channel closes with the last handle). */
export function acquireBus(username: string): { bus: UserBus; release: () => void } {
  let bus = buses.get(username);
  if (!bus) {
    bus = new UserBus(username);
    buses.set(username, bus);
  }
  bus.refs++;
  const b = bus;
  let released = false;
  return {
    bus: b,
    release: () => {
      if (released) return;
      released = true;
      if (--b.refs === 0) {
        buses.delete(username);
        b.close();
      }
    },
  };
}

export type { UserBus };
