// The stats HTTP listener, configured as Dovecot 2.3's is (`service stats { inet_listener http {
// port = 9900 } unix_listener http { mode = 0600 } }`, off unless one is configured): GET /metrics
// answers the OpenMetrics text of metrics.ts; any other path is 404. As in Dovecot's stats
// service (stats/main.c client_connected), only a listener named `http` speaks HTTP: an
// inet_listener of that name, or a unix_listener whose file is called `http` (relative paths
// under base_dir, mode/user/group as every unix listener, listeners/unix.ts). Dovecot's other
// stats listeners (stats-reader, stats-writer) speak its own protocol, which Roost does not serve.
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import http from 'node:http';
import type { Settings } from '../config/index.js';
import { inetListenAddresses, listenInet, type InetAddress } from '../listeners/inet.js';
import { listenUnix, resolveUnixListener, type UnixListenerSpec } from '../listeners/unix.js';
import { rootLogger } from '../log/logger.js';
import { enableProcessMetrics, registry } from './metrics.js';

export type MetricsAddress = InetAddress | { path: string };

export interface MetricsServer {
  readonly addresses: MetricsAddress[];
  close(): Promise<void>;
}

/** The HTTP listeners of `service stats`, and the names of the ones Roost skips. */
export function metricsListeners(settings: Settings): { inet: InetAddress[]; unix: UnixListenerSpec[]; skipped: string[] } {
  const stats = settings.service.stats;
  const skipped: string[] = [];
  const httpInet = (stats?.inet_listener ?? []).filter((l) => {
    if (l.name === 'http') return true;
    if (l.port > 0) skipped.push(`inet_listener ${l.name}`);
    return false;
  });
  const inet = inetListenAddresses(stats && { ...stats, inet_listener: httpInet }, settings.listen);
  const unix: UnixListenerSpec[] = [];
  for (const l of stats?.unix_listener ?? []) {
    if (basename(l.path) === 'http') unix.push(resolveUnixListener(l, settings.base_dir));
    else skipped.push(`unix_listener ${l.path}`);
  }
  return { inet, unix, skipped };
}

export function metricsConfigured(settings: Settings): boolean {
  const l = metricsListeners(settings);
  return l.inet.length + l.unix.length > 0;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('Method not allowed\n');
    return;
  }
  const body = await registry.metrics();
  res.writeHead(200, { 'Content-Type': registry.contentType });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export async function startMetricsServer(settings: Settings): Promise<MetricsServer> {
  enableProcessMetrics();
  const listeners = metricsListeners(settings);
  for (const name of listeners.skipped) {
    rootLogger.warning(`service stats ${name}: only listeners named http serve /metrics (ignored)`);
  }
  const servers: http.Server[] = [];
  const addresses: MetricsAddress[] = [];
  const unixPaths: string[] = [];
  const close = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
    for (const p of unixPaths) rmSync(p, { force: true });
  };
  const newServer = () => {
    const server = http.createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        rootLogger.error(`stats: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end();
      });
    });
    servers.push(server);
    return server;
  };
  try {
    for (const a of listeners.inet) addresses.push(await listenInet(newServer(), a));
    for (const spec of listeners.unix) {
      await listenUnix(newServer(), spec, 'service(stats)');
      unixPaths.push(spec.path);
      addresses.push({ path: spec.path });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { addresses, close };
}
