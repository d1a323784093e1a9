// The listeners of one service opened together: its TCP and unix listeners, the connections they
// accepted (bounded by client_limit), and a close that stops accepting, ends the connections and
// removes the socket files. A listener that cannot be opened closes the ones already open.
import { rmSync } from 'node:fs';
import net from 'node:net';
import { connectionOpened } from '../metrics/metrics.js';
import { listenInet, type InetAddress } from './inet.js';
import { listenUnix, type UnixListenerSpec } from './unix.js';

export type ListenAddress = InetAddress | { path: string };

export interface ListenerGroup {
  readonly addresses: ListenAddress[];
  /** Open connections. */
  readonly connections: ReadonlySet<net.Socket>;
  /** Stops accepting and frees the addresses now; open connections go on (a reload). */
  stopListening(): void;
  close(): Promise<void>;
}

export interface ListenerGroupOptions {
  /** `service(auth)`: prefixes errors about a listener. */
  label: string;
  inet: InetAddress[];
  unix: UnixListenerSpec[];
  accept(socket: net.Socket): void;
  /** Connections beyond this many are refused (`service { client_limit }`). */
  clientLimit?: number;
  /** Called for a refused connection, before it is destroyed. */
  onLimit?(socket: net.Socket): void;
}

export async function openListeners(opts: ListenerGroupOptions): Promise<ListenerGroup> {
  const connections = new Set<net.Socket>();
  const onConnection = (socket: net.Socket) => {
    if (opts.clientLimit !== undefined && connections.size >= opts.clientLimit) {
      opts.onLimit?.(socket);
      socket.destroy();
      return;
    }
    connections.add(socket);
    // roost_connections{service}: the label is `service(NAME)`.
    const counted = connectionOpened(/^service\((.*)\)$/.exec(opts.label)?.[1] ?? opts.label);
    socket.once('close', () => {
      connections.delete(socket);
      counted();
    });
    opts.accept(socket);
  };
  const servers: net.Server[] = [];
  const addresses: ListenAddress[] = [];
  const unixPaths: string[] = [];
  const close = async () => {
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const socket of connections) socket.destroy();
    await closed;
    for (const p of unixPaths) rmSync(p, { force: true });
  };
  try {
    for (const a of opts.inet) {
      const server = net.createServer(onConnection);
      addresses.push(await listenInet(server, a));
      servers.push(server);
    }
    for (const spec of opts.unix) {
      const server = net.createServer(onConnection);
      await listenUnix(server, spec, opts.label);
      servers.push(server);
      unixPaths.push(spec.path);
      addresses.push({ path: spec.path });
    }
  } catch (err) {
    await close();
    throw err;
  }
  const stopListening = () => {
    for (const s of servers) s.close();
    for (const p of unixPaths) rmSync(p, { force: true });
  };
  return { addresses, connections, stopListening, close };
}
