// What a Lua script may do on the real system (README "Lua scripts: libraries and access").
// Dovecot opens Lua's io/os libraries unrestricted (spec §1); Roost does the same by default
// and lets the operator narrow it: `lua_read_paths`, `lua_write_paths`, `lua_allow_commands`.
import { realpathSync } from 'node:fs';
import { dirname, basename, join, resolve, sep } from 'node:path';

export interface LuaSystemPolicy {
  /** Directories (and everything below) Lua may read; `/` = everything, empty = nothing (but writePaths). */
  readPaths: string[];
  /** Directories Lua may create, write, rename and remove files in. */
  writePaths: string[];
  /** io.popen and os.execute. */
  allowCommands: boolean;
}

export const UNRESTRICTED_POLICY: LuaSystemPolicy = { readPaths: ['/'], writePaths: ['/'], allowCommands: true };

/** The real location of `path` (symbolic links resolved, also for a file not yet created). */
function realLocation(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return join(realLocation(parent), basename(abs));
  }
}

function inside(path: string, dirs: string[]): boolean {
  if (dirs.length === 0) return false;
  const real = realLocation(path);
  return dirs.some((d) => {
    const dir = realLocation(d);
    return dir === sep || real === dir || real.startsWith(dir + sep);
  });
}

export class PathGuard {
  private readonly everythingReadable: boolean;
  private readonly everythingWritable: boolean;

  constructor(readonly policy: LuaSystemPolicy) {
    this.everythingReadable = policy.readPaths.some((d) => resolve(d) === sep);
    this.everythingWritable = policy.writePaths.some((d) => resolve(d) === sep);
  }

  /** Readable: below lua_read_paths or lua_write_paths (a script reads back what it may write). */
  mayRead(path: string): boolean {
    return this.everythingReadable || this.everythingWritable || inside(path, this.policy.readPaths) || inside(path, this.policy.writePaths);
  }

  mayWrite(path: string): boolean {
    return this.everythingWritable || inside(path, this.policy.writePaths);
  }
}
