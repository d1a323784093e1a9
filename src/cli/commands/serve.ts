// `roost serve`: IMAP and LMTP listeners from the configuration, and the auth and quota-status
// services when their listeners are configured, until SIGINT/SIGTERM or `roost stop`. SIGHUP and `roost reload` read the configuration again (Dovecot's master does on
// SIGHUP): new sessions get the new settings, auth and Lua scripts; open sessions keep theirs; a
// configuration with an error changes nothing and is logged with its file and line.
import { authServerConfigured, startAuthServer } from '../../auth-server/server.js';
import { quotaStatusConfigured, startQuotaStatusServer } from '../../quota-status/server.js';
import { countLoggedInSessionsWith } from '../../metrics/metrics.js';
import { metricsConfigured, startMetricsServer } from '../../metrics/server.js';
import { adminSocketPath, startAdminServer, type AdminServer } from '../../admin/socket.js';
import { ipMatches, isIpMask, userMaskMatches } from '../../admin/mask.js';
import type { Settings } from '../../config/index.js';
import { ConfigError } from '../../config/index.js';
import { startImapServer, type ImapServer } from '../../imap/server.js';
import type { MailSessionInfo } from '../../mail-user/session-info.js';
import { startLmtpServer, type LmtpServer } from '../../lmtp/server.js';
import { logHub, rootLogger } from '../../log/logger.js';
import { openServerDb } from '../../storage/index.js';
import { parseArgs } from '../args.js';
import { CliEnv } from '../cli-context.js';
import { serverDbPath, type CreatedContext } from '../context.js';

/** One loaded configuration and what was built from it. */
interface Generation {
  env: CliEnv;
  ctx: CreatedContext;
}

function applyLogSettings(settings: Settings): void {
  logHub.debug = settings.mail_debug;
  logHub.setLogPaths(settings);
}

export async function runServe(env: CliEnv, argv: string[]): Promise<number> {
  parseArgs(argv, []);
  const settings = env.settings;
  applyLogSettings(settings);
  for (const w of env.warnings) rootLogger.warning(w);
  // One server database for every generation: a reload must not close it under open sessions.
  const serverDb = openServerDb(serverDbPath(settings));
  env.contextOptions = { serverDb };
  const generations: Generation[] = [];
  let imap: ImapServer | null = null;
  let lmtp: LmtpServer | null = null;
  let admin: AdminServer | null = null;
  /** The auth and quota-status services keep the first configuration (a reload leaves them). */
  const pinned: (() => Promise<void>)[] = [];
  let retireTimer: NodeJS.Timeout | null = null;
  try {
    const ctx = await env.mailContext();
    // A broken auth script stops the server, as it stops Dovecot's auth process.
    await ctx.auth.init();
    generations.push({ env, ctx });
    try {
      if (settings.protocols.includes('imap')) {
        imap = await startImapServer(ctx);
        for (const l of imap.listeners) env.io.out(`roost: IMAP${l.ssl ? 'S' : ''} listening on ${l.address}:${l.boundPort}\n`);
      }
      if (settings.protocols.includes('lmtp')) {
        lmtp = await startLmtpServer(ctx);
        for (const a of lmtp.addresses) env.io.out(`roost: LMTP listening on ${'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`}\n`);
      }
      // Dovecot runs these services whatever `protocols` says; Roost starts them when listeners exist.
      if (authServerConfigured(settings)) {
        const auth = await startAuthServer(ctx);
        pinned.push(() => auth.close());
        for (const a of auth.addresses) env.io.out(`roost: auth listening on ${'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`}\n`);
      }
      if (quotaStatusConfigured(settings)) {
        const qs = await startQuotaStatusServer(ctx);
        pinned.push(() => qs.close());
        for (const a of qs.addresses) env.io.out(`roost: quota-status listening on ${'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`}\n`);
      }
      if (metricsConfigured(settings)) {
        const stats = await startMetricsServer(settings);
        pinned.push(() => stats.close());
        countLoggedInSessionsWith(() => imap?.sessions().length ?? 0);
        for (const a of stats.addresses) env.io.out(`roost: stats (OpenMetrics) listening on ${'path' in a ? `unix:${a.path} (GET /metrics)` : `http://${a.host}:${a.port}/metrics`}\n`);
      }
    } catch (err) {
      // A listener that cannot bind (EADDRINUSE) stops the server: close the ones already open,
      // or they would keep the process running with half the service and no error exit.
      for (const close of pinned.reverse()) await close();
      pinned.length = 0;
      await lmtp?.close();
      await imap?.close();
      lmtp = imap = null;
      throw err;
    }

    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stop = resolve));

    /** Closes the contexts of earlier configurations once no session uses them. */
    const retire = async () => {
      for (const g of generations.slice(0, -1)) {
        if (g.env === env && pinned.length > 0) continue;
        if ((imap?.sessionsUsing(g.ctx) ?? 0) + (lmtp?.connectionsUsing(g.ctx) ?? 0) > 0) continue;
        generations.splice(generations.indexOf(g), 1);
        await g.env.close();
      }
    };

    const reloadOnce = async (): Promise<void> => {
      // Dovecot's master logs the same line for SIGHUP and `doveadm reload`.
      rootLogger.warning('SIGHUP received - reloading configuration');
      const next = new CliEnv(env.configPath, env.overrides, env.io);
      next.contextOptions = { serverDb };
      let ctx: CreatedContext;
      const previous = generations.at(-1)!.ctx;
      let imapMoved = false;
      try {
        const s = next.settings;
        if (serverDbPath(s) !== serverDbPath(settings)) throw new Error('data_dir cannot change on reload: restart the server');
        ctx = await next.mailContext();
        await ctx.auth.init();
        const protocols = new Set(s.protocols);
        if (imap && !protocols.has('imap')) {
          await imap.close();
          imap = null;
        } else if (imap) {
          await imap.reload(ctx);
          imapMoved = true;
        }
        else if (protocols.has('imap')) imap = await startImapServer(ctx);
        if (lmtp && !protocols.has('lmtp')) {
          await lmtp.close();
          lmtp = null;
        } else if (lmtp) await lmtp.reload(ctx);
        else if (protocols.has('lmtp')) lmtp = await startLmtpServer(ctx);
        applyLogSettings(s);
        for (const w of next.warnings) rootLogger.warning(w);
      } catch (err) {
        // IMAP may already serve new connections from the new context: give it back the old one.
        if (imapMoved) await imap?.reload(previous).catch((e: unknown) => rootLogger.error(`imap: ${String(e)}`));
        await next.close();
        const text = err instanceof ConfigError ? `Error reading configuration: ${err.message}` : `Reloading the configuration failed: ${err instanceof Error ? err.message : String(err)}`;
        rootLogger.error(text);
        throw new Error(text);
      }
      generations.push({ env: next, ctx });
      await retire();
    };
    // One reload at a time; a SIGHUP during a reload waits for it.
    let reloading: Promise<void> = Promise.resolve();
    const reload = () => (reloading = reloading.catch(() => undefined).then(reloadOnce));
    const onHup = () => void reload().catch(() => undefined);
    process.on('SIGHUP', onHup);
    retireTimer = setInterval(() => void retire().catch((err: unknown) => rootLogger.error(String(err))), 2000);
    retireTimer.unref();

    const select = (args: string[]): ((s: MailSessionInfo) => boolean) => {
      const masks = args.filter((a) => !isIpMask(a));
      const ips = args.filter(isIpMask);
      return (s) => (masks.length === 0 || masks.some((m) => userMaskMatches(m, s.username))) && (ips.length === 0 || ips.some((m) => ipMatches(m, s.remoteIp)));
    };
    /**
     * Every mail session the server holds: logged-in IMAP sessions, LMTP recipients being
     * delivered, and other mail users (a quota-status lookup) from every live configuration.
     */
    const sessions = (): MailSessionInfo[] => {
      const others = generations.flatMap((g) => g.ctx.mailUsers.sessions())
        .filter((u) => u.service !== 'imap' && u.service !== 'lmtp')
        .map((u) => ({ username: u.username, service: u.service, remoteIp: u.remoteIp, sessionId: u.sessionId ?? '', connectedAt: u.createTime * 1000 }));
      return [...(imap?.sessions() ?? []), ...(lmtp?.sessions() ?? []), ...others];
    };
    admin = await startAdminServer(adminSocketPath(settings.base_dir), {
      who: (args) => ({ pid: process.pid, sessions: sessions().filter(select(args)) }),
      // IMAP sessions get Dovecot's BYE, LMTP transactions its 421 (see LmtpServer.kick); the
      // other mail users are single lookups that end on their own.
      kick: async (args) => [...(imap ? await imap.kick(select(args)) : []), ...(lmtp?.kick(select(args)) ?? [])],
      reload: () => reload().then(() => 'reloaded'),
      stop: () => {
        // Answer first, then stop (the client waits for the reply).
        setImmediate(stop);
        return 'stopping';
      },
      'log-errors': () => logHub.recentErrors(),
    });

    env.io.out(`roost: data under ${settings.data_dir}\n`);
    if (serverDb.listUsers().length === 0) {
      env.io.out('roost: no users yet; add the first one with:  npm run roost -- user add alice -p secret\n');
    }
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await stopped;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', onHup);
    await reloading.catch(() => undefined);
    env.io.out('roost: shutting down\n');
    return 0;
  } finally {
    if (retireTimer) clearInterval(retireTimer);
    for (const close of pinned.reverse()) await close();
    await lmtp?.close();
    await imap?.close();
    for (const g of generations) await g.env.close();
    await env.close();
    serverDb.close();
    // Last: `roost stop` waits for the socket to go away as the sign that everything is closed.
    await admin?.close();
  }
}
