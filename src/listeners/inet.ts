// TCP listeners of a `service X { inet_listener NAME { address port } }` block: an empty address
// means the global `listen` addresses, `*` every IPv4 address, port 0 disables the listener.
import type net from 'node:net';
import type { ServiceSettings } from '../config/settings.js';

export interface InetAddress {
  host: string;
  port: number;
}

export function inetListenAddresses(service: ServiceSettings | undefined, listen: string[]): InetAddress[] {
  const out: InetAddress[] = [];
  for (const l of service?.inet_listener ?? []) {
    if (l.port <= 0) continue;
    const hosts = l.address ? l.address.split(/[\s,]+/) : listen;
    for (const h of hosts) if (h) out.push({ host: h === '*' ? '0.0.0.0' : h, port: l.port });
  }
  return out;
}

/** Listens and resolves with the bound address (port 0 picks a free port). */
export function listenInet(server: net.Server, a: InetAddress): Promise<InetAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(a.port, a.host, () => {
      server.off('error', reject);
      const bound = server.address() as net.AddressInfo;
      resolve({ host: bound.address, port: bound.port });
    });
  });
}
