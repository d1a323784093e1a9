// The stats HTTP listener, configured as Dovecot 2.3's is (`service stats { inet_listener http {
// port = 9900 } }`, off unless a listener is configured): GET /metrics answers the OpenMetrics
// text of metrics.ts; any other path is 404. Only the inet listeners are served (Dovecot's stats
// unix sockets are for its own processes).
import http from 'node:http';
import type { Settings } from '../config/index.js';
import { inetListenAddresses, listenInet, type InetAddress } from '../listeners/inet.js';
import { rootLogger } from '../log/logger.js';
import { enableProcessMetrics, registry } from './metrics.js';

export interface MetricsServer {
  readonly addresses: InetAddress[];
  close(): Promise<void>;
}

export function metricsConfigured(settings: Settings): boolean {
  return inetListenAddresses(settings.service.stats, settings.listen).length > 0;
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
  const servers: http.Server[] = [];
  const addresses: InetAddress[] = [];
  const close = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
  };
  try {
    for (const a of inetListenAddresses(settings.service.stats, settings.listen)) {
      const server = http.createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          rootLogger.error(`stats: ${err instanceof Error ? err.message : String(err)}`);
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end();
        });
      });
      servers.push(server);
      addresses.push(await listenInet(server, a));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { addresses, close };
}
