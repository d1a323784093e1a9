// A service's listeners across configuration reloads (Dovecot's master does this for every
// service on SIGHUP): each generation of the configuration gives the addresses and what to do with
// a new connection. New connections are served by the newest generation; open ones keep the one
// that accepted them. When the addresses changed, the old listeners stop listening (their
// connections go on) and the new ones are bound.
import type net from 'node:net';
import { openListeners, type ListenAddress, type ListenerGroup } from './group.js';
import type { InetAddress } from './inet.js';
import type { UnixListenerSpec } from './unix.js';

/** What one configuration asks of the service's listeners. */
export interface ListenerGeneration<C> {
  /** What the connections accepted under this generation belong to (a context), for retiring it. */
  owner: C;
  inet: InetAddress[];
  unix: UnixListenerSpec[];
  accept(socket: net.Socket): void;
  clientLimit?: number;
  onLimit?(socket: net.Socket): void;
}

export interface ReloadableListeners<C> {
  readonly addresses: ListenAddress[];
  /** Open connections accepted under the generation owned by `owner`. */
  connectionsUsing(owner: C): number;
  /** Serves new connections with `next`; rebinds when its addresses differ. */
  reload(next: ListenerGeneration<C>): Promise<void>;
  close(): Promise<void>;
}

const keyOf = (g: ListenerGeneration<unknown>) => JSON.stringify([g.inet, g.unix]);

export async function openReloadableListeners<C>(label: string, first: ListenerGeneration<C>): Promise<ReloadableListeners<C>> {
  let current = first;
  const owners = new Map<net.Socket, C>();
  const open = () =>
    openListeners({
      label,
      inet: current.inet,
      unix: current.unix,
      // Read at each connection, so that a reload that keeps the addresses changes them too.
      get clientLimit() {
        return current.clientLimit;
      },
      onLimit: (socket) => current.onLimit?.(socket),
      accept(socket) {
        owners.set(socket, current.owner);
        socket.once('close', () => owners.delete(socket));
        current.accept(socket);
      },
    });
  let group = await open();
  let key = keyOf(first);
  /** Groups that stopped listening on a reload; their connections end on their own or at close. */
  const retired: ListenerGroup[] = [];
  return {
    get addresses() {
      return group.addresses;
    },
    connectionsUsing: (owner) => [...owners.values()].filter((o) => o === owner).length,
    async reload(next) {
      const previous = current;
      current = next;
      if (keyOf(next) === key) return;
      // The same address may be in the new set too: free it first, then bind the new set.
      group.stopListening();
      try {
        const opened = await open();
        retired.push(group);
        group = opened;
        key = keyOf(next);
      } catch (err) {
        // Bind the old addresses again, so that the service keeps listening where it did.
        current = previous;
        const old = group;
        group = await open();
        retired.push(old);
        throw err;
      }
    },
    async close() {
      await Promise.all([group, ...retired].map((g) => g.close()));
    },
  };
}
