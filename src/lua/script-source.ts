// Reading script files: Dovecot's access() check and error texts (spec §1.1), and a cache
// keyed by path that re-reads the file when it changed (mtime/size/inode): new states get the
// new version, existing states keep the chunk they compiled.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';

interface CachedSource {
  mtimeMs: number;
  size: number;
  ino: number;
  source: Buffer;
}

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EISDIR: 'Is a directory',
  EIO: 'Input/output error',
};

export function strerror(err: NodeJS.ErrnoException): string {
  return (err.code && STRERROR[err.code]) || err.message;
}

/** The result of loading: the bytes to compile, or Dovecot's error text. */
export type ScriptSourceResult = { ok: true; source: Buffer } | { ok: false; error: string };

export class ScriptSourceCache {
  private cache = new Map<string, CachedSource>();

  read(path: string): ScriptSourceResult {
    try {
      accessSync(path, constants.R_OK);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EACCES') {
        // Dovecot appends eacces_error()'s explanation; Roost gives the essentials of it.
        const uid = process.getuid?.() ?? -1;
        const gid = process.getgid?.() ?? -1;
        return { ok: false, error: `access(${path}) failed: Permission denied (euid=${uid} egid=${gid} missing +r perm: ${path})` };
      }
      return { ok: false, error: `access(${path}) failed: ${strerror(err)}` };
    }
    try {
      const st = statSync(path);
      const hit = this.cache.get(path);
      if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.ino === st.ino) {
        return { ok: true, source: hit.source };
      }
      const source = readFileSync(path);
      this.cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, source });
      return { ok: true, source };
    } catch (e) {
      // luaL_loadfile's errfile(): "cannot read <name>: <strerror>"
      return { ok: false, error: `lua_load(${path}) failed: cannot read ${path}: ${strerror(e as NodeJS.ErrnoException)}` };
    }
  }
}

/** luaL_loadfile skips a UTF-8 BOM and a first line starting with '#', keeping line numbers. */
export function skipShebang(source: Buffer): Buffer {
  let s = source;
  if (s.length >= 3 && s[0] === 0xef && s[1] === 0xbb && s[2] === 0xbf) s = s.subarray(3);
  if (s[0] === 0x23 /* # */) {
    const nl = s.indexOf(0x0a);
    return nl < 0 ? Buffer.alloc(0) : s.subarray(nl);
  }
  return s;
}
