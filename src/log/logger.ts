// One structured logger for the whole server. Lines follow Dovecot's layout:
//   <process prefix><session prefix>Level: <appended prefixes><message>
// e.g. `imap(alice)<4242><Fq3bW9AP>: Info: Logged out`.
import { spawn, type ChildProcess } from 'node:child_process';
import { LogFile } from './log-file.js';
import { DEFAULT_LOG_TIMESTAMP, strftime } from './timestamp.js';

export type LogLevel = 'Debug' | 'Info' | 'Warning' | 'Error' | 'Fatal' | 'Panic';

export interface LogRecord {
  time: Date;
  level: LogLevel;
  /** Everything before "Level:" (the process/session prefix, e.g. `imap(alice)<pid><session>: `). */
  prefix: string;
  /** The message, including any appended prefixes. */
  message: string;
  /** Structured fields (event fields, source location, ...). */
  fields?: Record<string, string | number>;
}

export type LogSink = (record: LogRecord) => void;

/**
 * Formats a record as Dovecot-style lines (without the trailing newline). `timestamp` is a
 * log_timestamp strftime format ('' or undefined: none). A multi-line message gives one line per
 * line: Dovecot's log process writes the first with the record's prefix and level and each later
 * one as `<process>: Error: <line>` (checked on Dovecot 2.3.19, e.g. `imap: Error: line2`).
 */
export function formatLogLine(r: LogRecord, timestamp?: string): string {
  const ts = timestamp ? strftime(timestamp, r.time) : '';
  const lines = r.message.split('\n');
  const first = `${ts}${r.prefix}${r.level}: ${lines[0]}`;
  if (lines.length === 1) return first;
  const process = processOf(r.prefix);
  return [first, ...lines.slice(1).map((l) => `${ts}${process}Error: ${l}`)].join('\n');
}

/** `imap(alice)<12><sess>: ` → `imap: `; a prefix without a session part stays as it is. */
function processOf(prefix: string): string {
  const m = /^([a-z][\w-]*)(?:\(|<)/.exec(prefix);
  return m ? `${m[1]}: ` : prefix;
}

/** Dovecot's log process keeps this many warnings and errors for `doveadm log errors` (log-error-buffer.c). */
export const RECENT_ERRORS_MAX = 1000;

const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp'];
/** syslog(3) severities for Dovecot's levels (failures.c: fatal and panic are LOG_CRIT). */
const SEVERITY: Record<LogLevel, number> = { Debug: 7, Info: 6, Warning: 4, Error: 3, Fatal: 2, Panic: 2 };

function facilityCode(name: string): number {
  const local = /^local([0-7])$/.exec(name);
  if (local) return 16 + Number(local[1]);
  const i = FACILITIES.indexOf(name);
  return i >= 0 ? i : 2; // mail
}

/**
 * `log_path = syslog`: lines go to the syslog socket with the facility and a severity per level,
 * ident `roost`, as Dovecot's `dovecot: imap-login: Login: ...` (Info lines carry no level label,
 * the others keep `Error: ` etc.). Node has no unix datagram sockets, so one util-linux `logger`
 * process (Debian's bsdutils, always installed) carries them: each line with its `<PRI>` prefix.
 */
const syslogSinks = new Map<string, LogSink>();
function syslogSink(facility: string, socket: string): LogSink {
  // A reload with the same facility and socket keeps the same `logger` process.
  const key = `${facility}\0${socket}`;
  let sink = syslogSinks.get(key);
  if (!sink) syslogSinks.set(key, (sink = newSyslogSink(facility, socket)));
  return sink;
}

function newSyslogSink(facility: string, socket: string): LogSink {
  const base = facilityCode(facility) * 8;
  let child: ChildProcess | null = null;
  const start = () => {
    const c = spawn('logger', ['--prio-prefix', '-t', 'roost', '-u', socket, '--socket-errors=off'], { stdio: ['pipe', 'ignore', 'ignore'] });
    c.on('error', () => undefined);
    c.stdin!.on('error', () => undefined);
    c.once('exit', () => {
      if (child === c) child = null;
    });
    // Logging never keeps the process alive.
    c.unref();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
    return c;
  };
  return (r) => {
    child ??= start();
    const label = r.level === 'Info' ? '' : `${r.level}: `;
    const text = `${r.prefix}${label}${r.message}`.replace(/\r?\n/g, ' ');
    child.stdin!.write(`<${base + SEVERITY[r.level]}>${text}\n`);
  };
}

class LogHub {
  debug = false;
  private recent: LogRecord[] = [];
  private sinks = new Set<LogSink>();
  private defaultSink: LogSink = (r) => process.stderr.write(formatLogLine(r) + '\n');
  private useDefault = true;
  /** The log files the current paths write, open (log-file.ts), by path. */
  private files = new Map<string, LogFile>();

  emit(r: LogRecord): void {
    if (r.level === 'Debug' && !this.debug && !r.fields?.forced) return;
    if (r.level !== 'Debug' && r.level !== 'Info') {
      this.recent.push(r);
      if (this.recent.length > RECENT_ERRORS_MAX) this.recent.shift();
    }
    if (this.useDefault) this.defaultSink(r);
    for (const s of this.sinks) s(r);
  }

  /**
   * Dovecot's `log_path`, `info_log_path` and `debug_log_path`: an empty info path means log_path,
   * an empty debug path means the info path; `/dev/stderr` (the default) writes to stderr and a
   * file path appends lines; both start with `log_timestamp`, as Dovecot's do. A file stays open
   * (log-file.ts); one no path names any more is closed, and a reload opens every file again.
   */
  setLogPaths(paths: {
    log_path: string;
    info_log_path?: string;
    debug_log_path?: string;
    syslog_facility?: string;
    syslog_socket?: string;
    log_timestamp?: string;
  }): void {
    let syslog: LogSink | null = null;
    const ts = paths.log_timestamp ?? DEFAULT_LOG_TIMESTAMP;
    const previous = this.files;
    this.files = new Map();
    const fileSink = (path: string): LogSink => {
      let file = this.files.get(path);
      if (!file) {
        file = previous.get(path) ?? new LogFile(path);
        // Set again (as SIGHUP does): a rotated file is left for the path's current one.
        file.reopen();
        this.files.set(path, file);
      }
      const f = file;
      return (r) => f.write(formatLogLine(r, ts) + '\n');
    };
    const sinkFor = (path: string): LogSink =>
      !path || path === '/dev/stderr'
        ? (r) => process.stderr.write(formatLogLine(r, ts) + '\n')
        : path === 'syslog'
          ? (syslog ??= syslogSink(paths.syslog_facility ?? 'mail', paths.syslog_socket || '/dev/log'))
          : fileSink(path);
    const main = sinkFor(paths.log_path);
    const info = paths.info_log_path ? sinkFor(paths.info_log_path) : main;
    const debug = paths.debug_log_path ? sinkFor(paths.debug_log_path) : info;
    this.defaultSink = (r) => (r.level === 'Debug' ? debug : r.level === 'Info' ? info : main)(r);
    for (const [path, file] of previous) if (!this.files.has(path)) file.close();
  }

  /**
   * `roost log reopen`, SIGUSR1 (Dovecot's `doveadm log reopen`): the next line of each log file
   * opens its path again, so that a file logrotate renamed is left behind.
   */
  reopenLogFiles(): void {
    for (const file of this.files.values()) file.reopen();
  }

  /**
   * The last warnings, errors and fatals, oldest first, as `doveadm log errors` prints them:
   * `Dec 06 04:16:39 Error: imap(alice)<pid><session>: text`.
   */
  recentErrors(): string[] {
    return this.recent.map((r) => `${strftime('%b %d %H:%M:%S', r.time)} ${r.level}: ${r.prefix}${r.message}`);
  }

  /** Silences the default stderr sink (tests, CLI commands that print their own output). */
  setDefaultOutput(enabled: boolean): void {
    this.useDefault = enabled;
  }

  addSink(s: LogSink): () => void {
    this.sinks.add(s);
    return () => this.sinks.delete(s);
  }
}

export const logHub = new LogHub();

/** A logger bound to a prefix, e.g. `imap(alice)<1234><sess>: `. */
export class Logger {
  constructor(readonly prefix: string) {}

  child(extraPrefix: string): Logger {
    return new Logger(this.prefix + extraPrefix);
  }

  log(level: LogLevel, message: string, fields?: Record<string, string | number>): void {
    logHub.emit({ time: new Date(), level, prefix: this.prefix, message, fields });
  }
  debug(message: string): void {
    this.log('Debug', message);
  }
  info(message: string): void {
    this.log('Info', message);
  }
  warning(message: string): void {
    this.log('Warning', message);
  }
  error(message: string): void {
    this.log('Error', message);
  }
}

/** The process-wide logger (prefix `roost: `, like Dovecot's `master: `). */
export const rootLogger = new Logger('roost: ');

/** Collects log lines in memory; for tests. Returns the array and a function that stops collecting. */
export function captureLogs(): { lines: string[]; records: LogRecord[]; stop: () => void } {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const stop = logHub.addSink((r) => {
    records.push(r);
    // One entry per record (a multi-line message stays one entry, unlike the written log).
    lines.push(`${r.prefix}${r.level}: ${r.message}`);
  });
  return { lines, records, stop };
}
