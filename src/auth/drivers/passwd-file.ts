// driver = passwd-file: Dovecot's format `user:password:uid:gid:(gecos):home:(shell):extra_fields`
// (https://doc.dovecot.org/2.3/configuration_manual/authentication/passwd_file/).
// args: `[scheme=X] [username_format=%u] <path>`; the path may contain %-variables (one file per
// domain). Each file is re-read when its mtime or size changes (checked with stat on every lookup).
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseKeyValues } from '../var-expand.js';
import type { AuthDbRequest } from '../request.js';
import type { AuthDriverModule, PassdbReply, UserdbReply } from './types.js';

export interface PasswdFileEntry {
  user: string;
  password?: string;
  uid?: string;
  gid?: string;
  home?: string;
  extra: [string, string][];
}

export function parsePasswdFile(text: string): Map<string, PasswdFileEntry> {
  const users = new Map<string, PasswdFileEntry>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.replace(/\r$/, '').split(':');
    const user = f[0]!;
    // Extra fields are everything after the 7th colon (they may contain ':' themselves).
    const extra = f.length > 7 ? parseKeyValues(f.slice(7).join(':')) : [];
    users.set(user, {
      user,
      password: f[1] || undefined,
      uid: f[2] || undefined,
      gid: f[3] || undefined,
      home: f[5] || undefined,
      extra,
    });
  }
  return users;
}

interface Args {
  scheme: string;
  usernameFormat: string;
  path: string;
}

function parseArgs(args: string): Args {
  const parsed: Args = { scheme: 'CRYPT', usernameFormat: '%u', path: '' };
  for (const tok of args.split(/\s+/).filter(Boolean)) {
    if (tok.startsWith('scheme=')) parsed.scheme = tok.slice(7).toUpperCase();
    else if (tok.startsWith('username_format=')) parsed.usernameFormat = tok.slice(16);
    else if (!parsed.path) parsed.path = tok;
    else throw new Error(`passwd-file: Unexpected parameter ${tok}`);
  }
  if (!parsed.path) throw new Error('passwd-file: Missing file path');
  return parsed;
}

/** Caches parsed files by path; re-reads a file when stat shows it changed. */
class PasswdFileCache {
  private files = new Map<string, { mtimeMs: number; size: number; users: Map<string, PasswdFileEntry> }>();

  async get(path: string): Promise<Map<string, PasswdFileEntry>> {
    // A stat of a local file takes about a microsecond on this thread; through the threadpool it
    // costs ten times that and queues behind the WAL fsyncs of deliveries (as Dovecot: stat()).
    const st = statSync(path);
    const cached = this.files.get(path);
    if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.users;
    const users = parsePasswdFile(await readFile(path, 'utf8'));
    this.files.set(path, { mtimeMs: st.mtimeMs, size: st.size, users });
    return users;
  }
}

type Found = { entry: PasswdFileEntry } | { reply: { result: 'unknown' | 'internal'; error?: string } };

async function find(cache: PasswdFileCache, a: Args, req: AuthDbRequest): Promise<Found> {
  const path = req.expand(a.path);
  let users: Map<string, PasswdFileEntry>;
  try {
    users = await cache.get(path);
  } catch (err) {
    // A missing per-domain file means unknown user, as in Dovecot.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { reply: { result: 'unknown' } };
    return { reply: { result: 'internal', error: `open(${path}) failed: ${(err as Error).message}` } };
  }
  const entry = users.get(req.expand(a.usernameFormat));
  return entry ? { entry } : { reply: { result: 'unknown' } };
}

export const passwdFileDriver: AuthDriverModule = {
  name: 'passwd-file',
  passdb: (args) => {
    const a = parseArgs(args);
    const cache = new PasswdFileCache();
    return {
      driver: 'passwd-file',
      defaultScheme: a.scheme,
      lookup: async (req): Promise<PassdbReply> => {
        const found = await find(cache, a, req);
        if ('reply' in found) return found.reply;
        const { entry } = found;
        const fields: Record<string, string> = Object.fromEntries(entry.extra);
        // uid/gid/home columns are userdb data; a passdb-only setup still gets them (prefetch).
        if (entry.uid) fields.userdb_uid ??= entry.uid;
        if (entry.gid) fields.userdb_gid ??= entry.gid;
        if (entry.home) fields.userdb_home ??= entry.home;
        return { result: 'ok', password: entry.password, fields };
      },
    };
  },
  userdb: (args) => {
    const a = parseArgs(args);
    const cache = new PasswdFileCache();
    return {
      driver: 'passwd-file',
      lookup: async (req): Promise<UserdbReply> => {
        const found = await find(cache, a, req);
        if ('reply' in found) return found.reply;
        const { entry } = found;
        const fields: Record<string, string> = {};
        if (entry.uid) fields.uid = entry.uid;
        if (entry.gid) fields.gid = entry.gid;
        if (entry.home) fields.home = entry.home;
        for (const [k, v] of entry.extra) fields[k.startsWith('userdb_') ? k.slice(7) : k] = v;
        return { result: 'ok', fields };
      },
      async *iterate() {
        if (a.path.includes('%')) return; // per-domain files cannot be listed
        yield* (await cache.get(a.path)).keys();
      },
    };
  },
};
