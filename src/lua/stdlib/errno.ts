// errno numbers and glibc's strerror texts, for Lua's `nil, message, errno` results
// (luaL_fileresult, lauxlib.c). Node reports libuv codes ('ENOENT'); Lua scripts see what
// Lua 5.4 on Linux would print.
import { constants } from 'node:os';

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EXDEV: 'Invalid cross-device link',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ETXTBSY: 'Text file busy',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  ESPIPE: 'Illegal seek',
  EROFS: 'Read-only file system',
  EMLINK: 'Too many links',
  EPIPE: 'Broken pipe',
  ENAMETOOLONG: 'File name too long',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  EDQUOT: 'Disk quota exceeded',
};

export interface SystemError {
  message: string;
  errno: number;
}

const errnos = constants.errno as Record<string, number>;

export function systemError(code: string): SystemError {
  return { message: STRERROR[code] ?? code, errno: errnos[code] ?? 0 };
}

/** The errno name and text of a Node fs exception (`{ code: 'ENOENT' }`). */
export function systemErrorOf(e: unknown): SystemError {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') return systemError(code);
  return { message: e instanceof Error ? e.message : String(e), errno: 0 };
}
