// Unix socket listeners as Dovecot's master process creates them (master/service-listen.c):
// relative paths under base_dir, a stale socket file replaced, then `mode`, `user` and `group`
// of `unix_listener PATH { mode = 0660  user = postfix  group = postfix }` applied to the file.
// Postfix reaches Dovecot's auth and LMTP sockets inside its chroot this way
// (`unix_listener /var/spool/postfix/private/auth`), so every Roost unix listener goes through here.
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import type { UnixListenerSettings } from '../config/settings.js';

/** A unix listener with its path resolved. */
export interface UnixListenerSpec {
  path: string;
  mode: number;
  /** Owner: a user name from /etc/passwd or a numeric uid; '' keeps the process's. */
  user: string;
  /** Group: a group name from /etc/group or a numeric gid; '' keeps the process's. */
  group: string;
}

export function resolveUnixListener(l: UnixListenerSettings, baseDir: string): UnixListenerSpec {
  return { path: isAbsolute(l.path) ? l.path : join(baseDir, l.path), mode: l.mode, user: l.user, group: l.group };
}

/** Looks a name up in a colon-separated database file (/etc/passwd, /etc/group): its third field. */
function idFromFile(file: string, name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  return undefined;
}

/** `user`/`group` → numeric id (names from /etc/passwd and /etc/group, as getpwnam(3) reads them). */
export function resolveOwner(kind: 'user' | 'group', value: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): number {
  if (/^\d+$/.test(value)) return Number(value);
  const id = idFromFile(kind === 'user' ? files.passwd : files.group, value);
  // Dovecot's text: "service(auth) unix_listener: User doesn't exist: postfix".
  if (id === undefined) throw new Error(`${kind === 'user' ? 'User' : 'Group'} doesn't exist: ${value}`);
  return id;
}

/**
 * Listens on `spec.path` and applies its mode and owner. The socket file is chmod'ed before
 * anyone is told the server is up; a user or group that does not exist, or a chown without the
 * privilege for it, closes the server and rejects with a message naming the listener.
 */
export async function listenUnix(server: net.Server, spec: UnixListenerSpec, label: string): Promise<void> {
  let uid = -1;
  let gid = -1;
  try {
    if (spec.user) uid = resolveOwner('user', spec.user);
    if (spec.group) gid = resolveOwner('group', spec.group);
  } catch (err) {
    throw new Error(`${label} unix_listener ${spec.path}: ${(err as Error).message}`);
  }
  mkdirSync(dirname(spec.path), { recursive: true });
  rmSync(spec.path, { force: true }); // a stale socket from a previous run
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    chmodSync(spec.path, spec.mode);
    if (uid !== -1 || gid !== -1) chownSync(spec.path, uid, gid);
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw new Error(`${label} unix_listener ${spec.path}: ${(err as Error).message}`);
  }
}
