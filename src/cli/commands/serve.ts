// `roost serve`: IMAP and LMTP listeners from the configuration, and the auth, quota-status and
// stats services when their listeners are configured, until SIGINT/SIGTERM or `roost stop`.
// SIGUSR1 and `roost log reopen` reopen the log files.
// SIGHUP and `roost reload` read the configuration again (Dovecot's master does on SIGHUP): new
// connections of every service get the new settings, passdb/userdb, quota rules and Lua scripts;
// listeners whose address, port or TLS files changed are bound again; open sessions keep theirs; a
// configuration with an error changes nothing and is logged with its file and line. data_dir and
// base_dir need a restart: a reload keeps the old values and says so. SIGHUP is caught from the
// start (hangup.ts); one that arrives while the server starts becomes a reload once it is up.
import { authServerConfigured, startAuthServer, type AuthServer } from '../../auth-server/server.js';
import { quotaStatusConfigured, startQuotaStatusServer, type QuotaStatusServer } from '../../quota-status/server.js';
import { countLoggedInSessionsWith } from '../../metrics/metrics.js';
import { metricsConfigured, metricsListeners, startMetricsServer, type MetricsServer } from '../../metrics/server.js';
import { AdminError, AdminHold, adminSocketPath, startAdminServer, type AdminServer } from '../../admin/socket.js';
import { ipMatches, isIpMask, userMaskMatches } from '../../admin/mask.js';
import type { Settings } from '../../config/index.js';
import { ConfigError } from '../../config/index.js';
import { startImapServer, type ImapServer } from '../../imap/server.js';
import type { MailSessionInfo } from '../../mail-user/session-info.js';
import { startLmtpServer, type LmtpServer } from '../../lmtp/server.js';
import { logHub, rootLogger } from '../../log/logger.js';
import { openServerDb } from '../../storage/index.js';
import { parseArgs } from '../args.js';
import { catchHangups, onHangup, releaseHangups } from '../hangup.js';
import { UserLocks } from '../../mail-user/user-locks.js';
import { CliEnv } from '../cli-context.js';
import { serverDbPlace, type CreatedContext } from '../context.js';

/** One loaded configuration and what was built from it. */
interface Generation {
  env: CliEnv;
  ctx: CreatedContext;
}

function applyLogSettings(settings: Settings): void {
  logHub.debug = settings.mail_debug;
  logHub.setLogPaths(settings);
}

/** A `-o` value as a config line reads it back unchanged. */
function quoted(value: string): string {
  return /^[^\s"'$<#{}\\]*$/.test(value) ? value : `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Settings a running server cannot take on reload: where the stores and the server database live
 * (data_dir) and where its sockets are (base_dir). Returns the `-o` overrides that keep the values
 * the server started with, and logs a warning for each one the new configuration changes.
 */
function pinRestartSettings(started: Settings, next: Settings): string[] {
  const pins: string[] = [];
  for (const name of ['data_dir', 'base_dir'] as const) {
    if (next[name] === started[name]) continue;
    rootLogger.warning(`${name} changed from ${started[name]} to ${next[name]}: restart required; still using ${started[name]}`);
    pins.push(`${name}=${quoted(started[name])}`);
  }
  return pins;
}

/** The stats listeners' addresses, to see whether a reload moved them. */
const statsKey = (s: Settings) => {
  const l = metricsListeners(s);
  return JSON.stringify([l.inet, l.unix]);
};

export async function runServe(env: CliEnv, argv: string[]): Promise<number> {
  // Before anything asynchronous: a SIGHUP from here on is queued, never the end of the process.
  const installedHangups = catchHangups();
  try {
    return await serve(env, argv);
  } finally {
    onHangup(null);
    // In-process runs (tests) give SIGHUP back; the `roost serve` process keeps ignoring it while it exits.
    if (installedHangups) releaseHangups();
  }
}

async function serve(env: CliEnv, argv: string[]): Promise<number> {
  parseArgs(argv, []);
  const settings = env.settings;
  applyLogSettings(settings);
  for (const w of env.warnings) rootLogger.warning(w);
  // One server database and one set of user locks for every generation: a reload must not close
  // the database under open sessions, and a restore in progress spans reloads.
  const serverDb = openServerDb(serverDbPlace(settings));
  const userLocks = new UserLocks();
  env.contextOptions = { serverDb, userLocks };
  const generations: Generation[] = [];
  let imap: ImapServer | null = null;
  let lmtp: LmtpServer | null = null;
  let auth: AuthServer | null = null;
  let quotaStatus: QuotaStatusServer | null = null;
  let stats: MetricsServer | null = null;
  let statsSettings = settings;
  let admin: AdminServer | null = null;
  let retireTimer: NodeJS.Timeout | null = null;
  const printAddresses = (name: string, addresses: ({ host: string; port: number } | { path: string })[]) => {
    for (const a of addresses) env.io.out(`roost: ${name} listening on ${'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`}\n`);
  };
  const startStats = async (s: Settings) => {
    const started = await startMetricsServer(s);
    countLoggedInSessionsWith(() => imap?.sessions().length ?? 0);
    for (const a of started.addresses) env.io.out(`roost: stats (OpenMetrics) listening on ${'path' in a ? `unix:${a.path} (GET /metrics)` : `http://${a.host}:${a.port}/metrics`}\n`);
    return started;
  };
  const closeAll = async () => {
    await stats?.close();
    await quotaStatus?.close();
    await auth?.close();
    await lmtp?.close();
    await imap?.close();
    stats = quotaStatus = auth = null;
    lmtp = imap = null;
  };
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
        printAddresses('LMTP', lmtp.addresses);
      }
      // Dovecot runs these services whatever `protocols` says; Roost starts them when listeners exist.
      if (authServerConfigured(settings)) {
        auth = await startAuthServer(ctx);
        printAddresses('auth', auth.addresses);
      }
      if (quotaStatusConfigured(settings)) {
        quotaStatus = await startQuotaStatusServer(ctx);
        printAddresses('quota-status', quotaStatus.addresses);
      }
      if (metricsConfigured(settings)) stats = await startStats(settings);
    } catch (err) {
      // A listener that cannot bind (EADDRINUSE) stops the server: close the ones already open,
      // or they would keep the process running with half the service and no error exit.
      await closeAll();
      throw err;
    }

    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stop = resolve));

    /** Open sessions and connections of every service that use `ctx`. */
    const usersOf = (c: CreatedContext) =>
      (imap?.sessionsUsing(c) ?? 0) + (lmtp?.connectionsUsing(c) ?? 0) + (auth?.connectionsUsing(c) ?? 0) + (quotaStatus?.connectionsUsing(c) ?? 0);
    /** Closes the contexts of earlier configurations once no session uses them. */
    const retire = async () => {
      for (const g of generations.slice(0, -1)) {
        if (usersOf(g.ctx) > 0) continue;
        generations.splice(generations.indexOf(g), 1);
        await g.env.close();
      }
    };

    const reloadOnce = async (): Promise<void> => {
      // Dovecot's master logs the same line for SIGHUP and `doveadm reload`.
      rootLogger.warning('SIGHUP received - reloading configuration');
      let next = new CliEnv(env.configPath, env.overrides, env.io);
      let ctx: CreatedContext;
      const previous = generations.at(-1)!.ctx;
      /** Undoes what this reload already changed, newest first, when a later step fails. */
      const undo: (() => Promise<void>)[] = [];
      try {
        const pins = pinRestartSettings(settings, next.settings);
        if (pins.length > 0) next = new CliEnv(env.configPath, [...env.overrides, ...pins], env.io);
        const s = next.settings;
        next.contextOptions = { serverDb, userLocks };
        ctx = await next.mailContext();
        await ctx.auth.init();
        const protocols = new Set(s.protocols);
        /**
         * Brings one service in line with the new configuration: closed when it is no longer
         * configured, given the new context when it stays, started when it is new.
         */
        const reconcile = async <T extends { reload(c: CreatedContext): Promise<void>; close(): Promise<void> }>(
          current: T | null,
          wanted: boolean,
          start: () => Promise<T>,
          set: (service: T | null) => void,
        ): Promise<void> => {
          if (current && !wanted) {
            await current.close();
            set(null);
          } else if (current) {
            await current.reload(ctx);
            undo.push(() => current.reload(previous));
          } else if (wanted) {
            const started = await start();
            set(started);
            undo.push(async () => {
              await started.close();
              set(null);
            });
          }
        };
        const printed = <T extends { addresses: Parameters<typeof printAddresses>[1] }>(name: string, started: Promise<T>) =>
          started.then((service) => {
            printAddresses(name, service.addresses);
            return service;
          });
        await reconcile(imap, protocols.has('imap'), () => startImapServer(ctx), (v) => (imap = v));
        await reconcile(lmtp, protocols.has('lmtp'), () => startLmtpServer(ctx), (v) => (lmtp = v));
        await reconcile(auth, authServerConfigured(s), () => printed('auth', startAuthServer(ctx)), (v) => (auth = v));
        await reconcile(quotaStatus, quotaStatusConfigured(s), () => printed('quota-status', startQuotaStatusServer(ctx)), (v) => (quotaStatus = v));
        // The stats listener serves the process's metrics, whatever the generation: rebound only
        // when its addresses changed (a scrape is one short request; the old listener's end).
        if (statsKey(s) !== statsKey(statsSettings)) {
          const was = statsSettings;
          await stats?.close();
          stats = null;
          try {
            if (metricsConfigured(s)) stats = await startStats(s);
            statsSettings = s;
          } catch (err) {
            if (metricsConfigured(was)) stats = await startStats(was).catch(() => null);
            throw err;
          }
        }
        applyLogSettings(s);
        for (const w of next.warnings) rootLogger.warning(w);
      } catch (err) {
        // Services may already serve new connections from the new context: give them back the old one.
        for (const step of undo.reverse()) await step().catch((e: unknown) => rootLogger.error(`reload: undo: ${String(e)}`));
        await next.close();
        const text = err instanceof ConfigError ? `Error reading configuration: ${err.message}` : `Reloading the configuration failed: ${err instanceof Error ? err.message : String(err)}`;
        rootLogger.error(text);
        throw new Error(text);
      }
      generations.push({ env: next, ctx });
      await retire();
    };
    // One reload at a time; a SIGHUP during a reload waits for it, and the SIGHUPs that arrive
    // meanwhile share that one next reload (it reads the configuration as it is when it starts).
    let reloading: Promise<void> = Promise.resolve();
    let queued: Promise<void> | null = null;
    const reload = (): Promise<void> => {
      if (queued) return queued;
      const next = reloading.catch(() => undefined).then(() => {
        queued = null;
        return reloadOnce();
      });
      queued = reloading = next;
      return next;
    };
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
      // `roost log reopen` (doveadm log reopen): after logrotate renamed the files.
      'log-reopen': () => {
        logHub.reopenLogFiles();
        return 'reopened';
      },
      // `roost restore -u USER`: no new logins or deliveries for the user, the ones in progress
      // finished, its IMAP sessions ended (doveadm kick's BYE) — held until the client disconnects.
      'restore-lock': async (args) => {
        const name = args[0];
        if (!name) throw new Error('restore-lock needs a user');
        const found = await generations.at(-1)!.ctx.auth.lookupUser(name, 'doveadm');
        const username = found.found ? found.user : name;
        const unlock = await userLocks.lock(username);
        try {
          const kicked = imap ? await imap.kick((s) => s.username === username) : [];
          // Nothing of this process keeps the store open: it is opened afresh after the restore.
          for (const g of generations) g.ctx.mailUsers.stores.closeIdle(username);
          rootLogger.info(`restore: ${username}: store locked, ${kicked.length} session(s) ended`);
          return new AdminHold({ user: username, kicked: kicked.length }, () => {
            unlock();
            rootLogger.info(`restore: ${username}: store unlocked`);
          });
        } catch (err) {
          unlock();
          throw err;
        }
      },
      // `roost deliver` in its own process (an MTA's LDA): counted as a delivery in progress, as
      // LMTP's are, until the client disconnects, so a restore-lock waits for it to finish; a
      // user held for a restore is refused (the CLI exits EX_TEMPFAIL and the MTA retries). The
      // name is the user the CLI's userdb lookup gave, which is the store it writes.
      'deliver-lock': (args) => {
        const username = args[0];
        if (!username) throw new Error('deliver-lock needs a user');
        const leave = userLocks.enter(username);
        if (!leave) throw new AdminError(`${username}: the mail store is being restored`);
        return new AdminHold({ user: username }, leave);
      },
    });

    // Before the last start-up lines: whoever waits for them (a test, a supervisor) may signal at once.
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // SIGUSR1 reopens the log files, as Dovecot's master does (logrotate's postrotate). A listener
    // also keeps Node from opening its inspector on that signal.
    const reopenLogs = () => logHub.reopenLogFiles();
    process.on('SIGUSR1', reopenLogs);
    env.io.out(`roost: data under ${settings.data_dir}\n`);
    if ((await serverDb.listUsers()).length === 0) {
      env.io.out('roost: no users yet; add the first one with:  npm run roost -- user add alice -p secret\n');
    }
    // Up: SIGHUPs reload from now on, and one that came during the start-up reloads now.
    onHangup(() => void reload().catch(() => undefined));
    await stopped;
    onHangup(null);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGUSR1', reopenLogs);
    await reloading.catch(() => undefined);
    env.io.out('roost: shutting down\n');
    return 0;
  } finally {
    if (retireTimer) clearInterval(retireTimer);
    await closeAll();
    for (const g of generations) await g.env.close();
    await env.close();
    await serverDb.close();
    // Last: `roost stop` waits for the socket to go away as the sign that everything is closed.
    await admin?.close();
  }
}
