// `roost`: the server and its admin CLI. Verbs and output follow doveadm where doveadm has the verb.
// main.ts is the program's entry; it loads this module only once SIGHUP is caught (hangup.ts).
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { ConfigError } from '../config/index.js';
import { logHub } from '../log/logger.js';
import { StorageError } from '../storage/types.js';
import { UsageError } from './args.js';
import { CliEnv, type CliIo } from './cli-context.js';
import { runAuth } from './commands/auth.js';
import { runConfig } from './commands/config.js';
import { runMailbox } from './commands/mailbox.js';
import { runMetadata } from './commands/metadata.js';
import { runMigrate } from './commands/migrate.js';
import { runMigrateStore } from './commands/migrate-store.js';
import { runPw } from './commands/pw.js';
import { runServe } from './commands/serve.js';
import { runUser } from './commands/user.js';
import { runDeliverVerb } from './commands/deliver.js';
import { runLua } from './commands/lua.js';
import { runBackup, runRestore } from './commands/backup.js';
import { runExport, runImport } from './commands/import-export.js';
import { ROOST_VERSION } from './version.js';
import { adminVerb, runKick, runLog, runReload, runStop, runWho } from './commands/admin.js';

export const DEFAULT_CONFIG = 'config/roost.conf';

const HELP = `usage: roost [-c FILE] [-o key=value]... VERB ...   (-c and -o may also follow the verb)
  serve                                   run the IMAP and LMTP servers
  user add|del|list|show|passwd|set ...   manage built-in accounts
  user USER | user '*'                    userdb lookup / iterate (doveadm user)
  mailbox list|create|delete|rename|status -u USER ...
  metadata get|set|unset|list -u USER MAILBOX [KEY [VALUE]]
  deliver -u USER [-m MAILBOX] [-f FROM]  deliver a message from stdin (like dovecot-lda)
  auth test USER [PASS] | auth lookup USER
  pw [-s SCHEME] [-p PASS] [-t HASH]      hash or test a password
  pw -l                                   list the password schemes
  lua test [--filter T] [--junit F] [--watch] [FILE|DIR]...   run Lua script tests (*_test.lua)
  lua check SCRIPT...                     syntax, Dovecot entry points, compatibility warnings
  config [-a|-n] [SETTING...]             print the effective configuration (like doveconf)
  migrate                                 apply database migrations (the server database, every store)
  migrate-store -u USER --to LOCATION     move a user's mail to another mail_location (UIDs, flags, metadata kept)
  who [-1] [USER_MASK|IP]                 list the running server's sessions (doveadm who)
  kick USER_MASK [IP]                     end those sessions (doveadm kick)
  reload                                  re-read the configuration, as SIGHUP
  stop                                    stop the running server, as SIGTERM
  log errors                              the running server's last warnings and errors
  log reopen                              the running server reopens its log files, as SIGUSR1 (logrotate)
  backup -u USER DEST | backup -A DEST    consistent copy of a user's store while serving
  restore -u USER SRC | restore -A SRC    put a backup back
  import -u USER [-m MAILBOX] maildir:PATH|mbox:FILE|mbox:DIR   bring mail in (flags, dates, UIDs kept)
  export -u USER maildir:PATH|mbox:DIR    write the user's mail as a Dovecot Maildir or mbox tree
  version                                 print the version
  help                                    print this list
-o takes doveconf's paths for nested settings: -o service/imap-login/inet_listener/imap/port=1143
`;

type Verb = (env: CliEnv, argv: string[]) => Promise<number> | number;

const VERBS: Record<string, Verb> = {
  serve: runServe,
  user: runUser,
  mailbox: runMailbox,
  metadata: runMetadata,
  deliver: runDeliverVerb,
  auth: runAuth,
  pw: runPw,
  lua: runLua,
  config: runConfig,
  migrate: runMigrate,
  'migrate-store': runMigrateStore,
  who: adminVerb((env, argv) => runWho(env, argv)),
  kick: adminVerb(runKick),
  reload: adminVerb(runReload),
  stop: adminVerb(runStop),
  log: adminVerb(runLog),
  backup: runBackup,
  restore: runRestore,
  import: runImport,
  export: runExport,
  version: (env) => {
    env.io.out(`${ROOST_VERSION}\n`);
    return 0;
  },
  help: (env) => {
    env.io.out(HELP);
    return 0;
  },
};

/** Every verb `roost` accepts (`--help` lists each). */
export const VERB_NAMES: readonly string[] = Object.keys(VERBS);

/**
 * Takes the global options (-c, -o) out of argv, before or after the verb (`roost -c FILE serve`,
 * `roost serve -c FILE`, `npm start -- -c FILE`); no verb uses -c or -o for itself. Scanning
 * stops at `--`, after which every word is the verb's.
 */
function splitGlobal(argv: string[]): { config: string | null; overrides: string[]; rest: string[] } {
  let config: string | null = null;
  const overrides: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '-c' || a === '--config') {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a file`);
      config = argv[++i]!;
    } else if (a.startsWith('--config=')) {
      config = a.slice('--config='.length);
    } else if (a === '-o') {
      if (i + 1 >= argv.length) throw new UsageError('-o needs key=value');
      overrides.push(argv[++i]!);
    } else rest.push(a);
  }
  return { config, overrides, rest };
}

export function processIo(): CliIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    stdin: () => process.stdin,
    promptSecret: async (question) => {
      if (!process.stdin.isTTY) return null;
      let muted = false;
      const output = new Writable({
        write(chunk, _enc, cb) {
          if (!muted) process.stderr.write(chunk);
          cb();
        },
      });
      const rl = createInterface({ input: process.stdin, output, terminal: true });
      return new Promise((resolve) => {
        rl.question(question, (answer) => {
          rl.close();
          process.stderr.write('\n');
          resolve(answer);
        });
        muted = true;
      });
    },
  };
}

/** Runs the CLI; returns the exit code (never throws for user errors). */
export async function runCli(argv: string[], io: CliIo = processIo()): Promise<number> {
  let env: CliEnv | null = null;
  try {
    const { config, overrides, rest } = splitGlobal(argv);
    const [verb, ...args] = rest;
    if (!verb || verb === '-h' || verb === '--help') {
      io.out(HELP);
      return verb ? 0 : 64;
    }
    const run = VERBS[verb];
    if (!run) throw new UsageError(`Unknown command: ${verb}\n${HELP}`);
    env = new CliEnv(config ?? (verb === 'version' || verb === 'pw' ? null : DEFAULT_CONFIG), overrides, io);
    if (verb !== 'serve') logHub.setDefaultOutput(false);
    return await run(env, args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`roost: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      io.err(`roost: Fatal: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    if (err instanceof StorageError) {
      io.err(`roost: ${err.message}\n`);
      return err.code === 'NONEXISTENT' ? 68 : 75;
    }
    io.err(`roost: Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 75;
  } finally {
    if (env) await env.close();
  }
}

/**
 * Exit status when the event loop drained while the verb was still running: nothing was left to
 * finish its work (a bug — e.g. a wait on a thread that did not hold the process open). Never 0:
 * an MTA takes `deliver`'s 0 for "stored", so deliver says EX_TEMPFAIL and the MTA retries.
 */
export function unfinishedExitCode(argv: string[]): number {
  let verb: string | undefined;
  try {
    verb = splitGlobal(argv).rest[0];
  } catch {
    verb = undefined;
  }
  return verb === 'deliver' ? 75 : 70; // EX_TEMPFAIL : EX_SOFTWARE
}

/**
 * Runs the CLI as the process: sets the exit status from `run`, and turns an event loop that
 * drains while `run` is still pending into an error exit instead of Node's silent exit 0.
 */
export function runAsProcess(argv: string[], run: (argv: string[]) => Promise<number> = runCli): void {
  let settled = false;
  // `roost user list | head`: a reader that stops reading is the shell's business, not an error
  // (as for any Unix command killed by SIGPIPE).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.on('beforeExit', () => {
    if (settled) return;
    process.stderr.write('roost: Error: the command stopped before finishing its work (nothing was left to wait on); its result is unknown\n');
    process.exit(unfinishedExitCode(argv));
  });
  run(argv).then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (err: unknown) => {
      settled = true;
      process.stderr.write(`roost: Error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = unfinishedExitCode(argv);
    },
  );
}
