// The process's metrics (prom-client, one registry): the protocol layers report through the few
// functions below and never see prom-client; the stats HTTP listener (server.ts) serves them as
// OpenMetrics text. Dovecot's stats service exports the same kind of figures (doc: "Statistics",
// openmetrics). Nothing here starts a timer: the default process metrics are only registered when
// the listener starts (enableProcessMetrics).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';
import { storageTimings } from '../storage/timings.js';

export const registry = new Registry<OpenMetricsContentType>();
registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);

const connections = new Gauge({
  name: 'roost_connections',
  help: 'Open client connections, by service.',
  labelNames: ['service'] as const,
  registers: [registry],
});

/** Counts the logged-in IMAP sessions when scraped; the server sets where they come from. */
let loggedInSessions: () => number = () => 0;
new Gauge({
  name: 'roost_imap_sessions',
  help: 'Logged-in IMAP sessions.',
  registers: [registry],
  collect() {
    this.set(loggedInSessions());
  },
});

/** Mail user sessions (Dovecot's struct mail_user) open now, by the service that created them. */
const mailUserSessions = new Gauge({
  name: 'roost_mail_user_sessions',
  help: 'Mail user sessions open now (an IMAP login, an LMTP recipient being delivered, a quota-status lookup), by service.',
  labelNames: ['service'] as const,
  registers: [registry],
});

const logins = new Counter({
  name: 'roost_logins',
  help: 'Login attempts (IMAP LOGIN/AUTHENTICATE, auth service requests such as Postfix SASL), by result (success, failure, tempfail), SASL mechanism and service.',
  labelNames: ['result', 'mechanism', 'service'] as const,
  registers: [registry],
});

const imapCommands = new Histogram({
  name: 'roost_imap_command_duration_seconds',
  help: 'IMAP commands, by name and tagged status, with how long each took to its tagged reply.',
  labelNames: ['command', 'status'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  registers: [registry],
});

const deliveries = new Counter({
  name: 'roost_lmtp_deliveries',
  help: 'LMTP deliveries (one per recipient), by result (ok, tempfail, rejected).',
  labelNames: ['result'] as const,
  registers: [registry],
});

const deliveredBytes = new Counter({
  name: 'roost_lmtp_delivered_bytes',
  help: 'Bytes of messages delivered over LMTP (as sent in DATA), counted once per delivered recipient.',
  registers: [registry],
});

/** A connection was accepted; call the returned function once when it closes. */
export function connectionOpened(service: string): () => void {
  connections.inc({ service });
  let open = true;
  return () => {
    if (open) connections.dec({ service });
    open = false;
  };
}

export function countLoggedInSessionsWith(source: () => number): void {
  loggedInSessions = source;
}

/** A mail user session was created; call the returned function once when it ends. */
export function mailUserSessionOpened(service: string): () => void {
  mailUserSessions.inc({ service });
  let open = true;
  return () => {
    if (open) mailUserSessions.dec({ service });
    open = false;
  };
}

/**
 * The services an auth client may name (Dovecot's protocols and the SMTP servers that use its
 * auth socket); anything else is counted as `other`, so a client cannot grow the label set.
 */
const LOGIN_SERVICES = new Set(['imap', 'pop3', 'smtp', 'submission', 'lmtp', 'sieve', 'managesieve', 'doveadm']);

export function countLogin(result: 'success' | 'failure' | 'tempfail', mechanism: string, service: string): void {
  logins.inc({ result, mechanism: mechanism.toUpperCase(), service: LOGIN_SERVICES.has(service) ? service : 'other' });
}

export function observeImapCommand(command: string, status: string, seconds: number): void {
  imapCommands.observe({ command: command.toUpperCase(), status }, seconds);
}

/** The outcome of `recipients` recipients after DATA: an SMTP reply code (250, 4xx, 5xx) and the message size. */
export function countDelivery(code: number, bytes: number, recipients = 1): void {
  const result = code < 400 ? 'ok' : code < 500 ? 'tempfail' : 'rejected';
  deliveries.inc({ result }, recipients);
  if (result === 'ok') deliveredBytes.inc(bytes * recipients);
}

// Lua: by `script` (the path of the script file as loaded: mail_lua_script, a push-notification
// or passdb/userdb script; a server has a few) and, for calls, by `function` (the fixed set of
// entry points Roost calls).
const luaCalls = new Counter({
  name: 'roost_lua_calls',
  help: 'Calls of Lua script functions (mail_lua hooks, auth and push-notification scripts), by script and function.',
  labelNames: ['script', 'function'] as const,
  registers: [registry],
});

const luaTimeouts = new Counter({
  name: 'roost_lua_timeouts',
  help: 'Lua script runs (load, init, a call, deinit) stopped because they exceeded lua_call_timeout, by script.',
  labelNames: ['script'] as const,
  registers: [registry],
});

const luaMemoryErrors = new Counter({
  name: 'roost_lua_memory_errors',
  help: 'Lua script runs (load, init, a call, deinit) that failed on lua_memory_limit, by script.',
  labelNames: ['script'] as const,
  registers: [registry],
});

const luaWorkerReplacements = new Counter({
  name: 'roost_lua_worker_replacements',
  help: 'Lua worker threads terminated and replaced (they failed, exited or missed lua_watchdog_timeout).',
  registers: [registry],
});

/**
 * A server loads a few scripts, but a userdb may give each user a mail_lua_script of its own:
 * past this many distinct paths, further scripts are counted as `other`, which keeps the
 * number of series bounded.
 */
export const MAX_LUA_SCRIPT_LABELS = 64;
const scriptLabels = new Set<string>();

function scriptLabel(script: string): string {
  if (scriptLabels.has(script)) return script;
  if (scriptLabels.size >= MAX_LUA_SCRIPT_LABELS) return 'other';
  scriptLabels.add(script);
  return script;
}

export function countLuaCall(script: string, fn: string): void {
  luaCalls.inc({ script: scriptLabel(script), function: fn });
}

/** A Lua error text: counted when lua_call_timeout or lua_memory_limit caused it (lua/script-state.ts words them). */
export function countLuaFailure(script: string, message: string): void {
  if (message.includes('exceeded lua_call_timeout')) luaTimeouts.inc({ script: scriptLabel(script) });
  else if (message.includes('(lua_memory_limit ')) luaMemoryErrors.inc({ script: scriptLabel(script) });
}

export function countLuaWorkerReplacement(): void {
  luaWorkerReplacements.inc();
}

const authPenaltyDelays = new Histogram({
  name: 'roost_auth_penalty_delay_seconds',
  help: 'Delays the auth penalty put on login attempts from IPs with recent failures (auth-penalty.c).',
  buckets: [1, 2, 4, 8, 15],
  registers: [registry],
});

const storeCommits = new Histogram({
  name: 'roost_storage_commit_duration_seconds',
  help: 'Outermost mail store transactions: the work inside, the commit, and with durability = async-fsync its WAL sync.',
  buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
  registers: [registry],
});

const walSyncs = new Histogram({
  name: 'roost_storage_fsync_duration_seconds',
  help: 'fdatasync of a mail store WAL (durability = async-fsync; with full, SQLite syncs inside the commit).',
  labelNames: ['mode'] as const,
  buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
  registers: [registry],
});

export function observeAuthPenalty(ms: number): void {
  authPenaltyDelays.observe(ms / 1000);
}


let processMetrics = false;

/** prom-client's default metrics (memory, CPU, event-loop lag, GC, handles) and the storage timings. */
export function enableProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry });
  storageTimings.commit = (seconds) => storeCommits.observe(seconds);
  storageTimings.walSync = (mode, seconds) => walSyncs.observe({ mode }, seconds);
}
