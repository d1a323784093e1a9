// Host functions behind the io, os and package libraries of a state (src/lua/chunks/stdlib.lua):
// the real filesystem, environment and commands, as Dovecot's unsandboxed Lua sees them
// (spec §1), narrowed by the operator's LuaSystemPolicy. Runs in the Lua worker thread; every
// call is synchronous. Raw functions (binary-safe strings) use the Lua C API directly.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LuaMultiReturn, type LuaWasm } from 'wasmoon';
import { rawHost, type HostFunction } from '../lua-runtime.js';
import { pushBytes, pushString, readBytes, readString } from '../lua-stack.js';
import { systemErrorOf, type SystemError } from './errno.js';
import { NO_MEMORY, OpenFiles, type CommandStatus } from './files.js';
import { PathGuard, type LuaSystemPolicy } from './policy.js';

const LUA_TSTRING = 4;
/** Output of io.popen(cmd, 'r') kept in memory at most (the command's stdout). */
const MAX_COMMAND_OUTPUT = 64 * 1024 * 1024;

export interface SystemHostOptions {
  lua: LuaWasm;
  policy: LuaSystemPolicy;
  /** lua_memory_limit: a read cannot return more (it fails as a memory error does). */
  memoryLimitBytes: number;
  /** Milliseconds left of the running call (lua_call_timeout): a command is killed after that. */
  remainingMs(): number;
  /** luaL_loadbufferx on L; pushes the chunk or the message, returns the status. */
  loadChunk(L: number, code: Buffer, chunkName: string, mode: string | null): number;
}

function fail(err: SystemError): LuaMultiReturn {
  return LuaMultiReturn.from([null, err.message, err.errno]) as LuaMultiReturn;
}

function denied(setting: string): SystemError {
  return { message: `Permission denied (${setting})`, errno: constants.errno.EACCES };
}

function statusOf(r: SpawnSyncReturns<Buffer>): CommandStatus {
  if (r.signal) return { exited: false, signal: constants.signals[r.signal] ?? 0 };
  return { exited: true, code: r.status ?? 127 };
}

/** Where Lua puts temporary files: LUA_TMPNAMTEMPLATE (luaconf.h) and glibc's P_tmpdir. */
const TMP_DIR = '/tmp';

/** The name of a new file `/tmp/lua_XXXXXX`, created empty (mkstemp, as Lua's os.tmpname). */
function createTempFile(flags: string): { path: string; fd: number } {
  for (;;) {
    const suffix = randomBytes(6).toString('base64').replace(/[+/=]/g, 'x').slice(0, 6);
    const path = join(TMP_DIR, `lua_${suffix}`);
    try {
      return { path, fd: openSync(path, flags, 0o600) };
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
  }
}

export class SystemHost {
  readonly files = new OpenFiles();
  private readonly guard: PathGuard;

  constructor(private readonly opts: SystemHostOptions) {
    this.guard = new PathGuard(opts.policy);
  }

  /** Closes the files a state left open. */
  dispose(): void {
    this.files.closeAll();
  }

  functions(): Record<string, HostFunction> {
    const { lua } = this.opts;
    const files = this.files;
    const guard = this.guard;
    const policy = this.opts.policy;
    const int = (L: number, i: number) => Number(lua.lua_tointegerx(L, i, null));
    return {
      // ---- io ----
      open: (path: string, mode: string) => {
        const reads = mode.startsWith('r') || mode.includes('+');
        const writes = !mode.startsWith('r') || mode.includes('+');
        if (reads && !guard.mayRead(path)) return fail(denied('lua_read_paths'));
        if (writes && !guard.mayWrite(path)) return fail(denied('lua_write_paths'));
        const id = files.open(path, mode);
        return typeof id === 'number' ? id : fail(id);
      },
      tmpfile: () => {
        if (!guard.mayWrite(TMP_DIR)) return fail(denied('lua_write_paths'));
        try {
          const { path, fd } = createTempFile('wx+');
          unlinkSync(path);
          return files.addFd(fd);
        } catch (e) {
          return fail(systemErrorOf(e));
        }
      },
      // read(id, format, count): the value, nil at end of file, or nil, message, errno
      read: rawHost((L: number) => {
        const got = files.read(int(L, 1), readString(lua, L, 2), lua.lua_gettop(L) >= 3 ? int(L, 3) : 0, this.opts.memoryLimitBytes);
        if (got === NO_MEMORY) {
          pushString(lua, L, NO_MEMORY.message);
          return lua.lua_error(L);
        }
        if (got === null) {
          lua.lua_pushnil(L);
          return 1;
        }
        if (typeof got === 'string') {
          pushString(lua, L, got);
          return 1;
        }
        if (Buffer.isBuffer(got)) {
          pushBytes(lua, L, got);
          return 1;
        }
        lua.lua_pushnil(L);
        pushString(lua, L, got.message);
        lua.lua_pushinteger(L, BigInt(got.errno));
        return 3;
      }),
      // write(id, string): true or nil, message, errno
      write: rawHost((L: number) => {
        const r = files.write(int(L, 1), readBytes(lua, L, 2));
        if (r === true) {
          lua.lua_pushboolean(L, 1);
          return 1;
        }
        lua.lua_pushnil(L);
        pushString(lua, L, r.message);
        lua.lua_pushinteger(L, BigInt(r.errno));
        return 3;
      }),
      seek: (id: number, whence: 'set' | 'cur' | 'end', offset: number) => {
        const r = files.seek(id, whence, offset);
        return typeof r === 'number' ? r : fail(r);
      },
      // close(id): 'ok' | 'error', message, errno | 'exit', code | 'signal', number
      close: (id: number) => {
        const r = files.close(id);
        if (r === true) return 'ok';
        if ('message' in r) return LuaMultiReturn.from(['error', r.message, r.errno]) as LuaMultiReturn;
        return LuaMultiReturn.from(r.exited ? ['exit', r.code] : ['signal', r.signal]) as LuaMultiReturn;
      },
      popen: (command: string, mode: string) => {
        if (!policy.allowCommands) return fail(denied('lua_allow_commands'));
        if (mode === 'w') return files.addCommandInput((input) => statusOf(this.run(command, input, 'inherit')));
        const r = this.run(command, undefined, 'pipe');
        if (r.error && !r.signal) return fail(systemErrorOf(r.error));
        return files.addOutput(r.stdout ?? Buffer.alloc(0), statusOf(r));
      },
      // ---- os ----
      shell: () => policy.allowCommands,
      execute: (command: string) => {
        if (!policy.allowCommands) return fail(denied('lua_allow_commands'));
        const r = this.run(command, undefined, 'inherit');
        if (r.error && !r.signal) return fail(systemErrorOf(r.error));
        const st = statusOf(r);
        return LuaMultiReturn.from(st.exited ? ['exit', st.code] : ['signal', st.signal]) as LuaMultiReturn;
      },
      getenv: (name: string) => process.env[name] ?? null,
      remove: (path: string) => {
        if (!guard.mayWrite(path)) return fail(denied('lua_write_paths'));
        try {
          unlinkSync(path);
          return true;
        } catch (e) {
          // C remove(): a directory is removed with rmdir
          if ((e as { code?: string }).code !== 'EISDIR' && (e as { code?: string }).code !== 'EPERM') return fail(systemErrorOf(e));
          try {
            if (!statSync(path).isDirectory()) return fail(systemErrorOf(e));
            rmdirSync(path);
            return true;
          } catch (e2) {
            return fail(systemErrorOf(e2));
          }
        }
      },
      rename: (from: string, to: string) => {
        if (!guard.mayWrite(from) || !guard.mayWrite(to)) return fail(denied('lua_write_paths'));
        try {
          renameSync(from, to);
          return true;
        } catch (e) {
          return fail(systemErrorOf(e));
        }
      },
      tmpname: () => {
        if (!guard.mayWrite(TMP_DIR)) return fail(denied('lua_write_paths'));
        try {
          const { path, fd } = createTempFile('wx');
          closeSync(fd);
          return path;
        } catch (e) {
          return fail(systemErrorOf(e));
        }
      },
      clock: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6 + Number.MIN_VALUE;
      },
      // ---- package ----
      readable: (path: string) => {
        if (!guard.mayRead(path)) return false;
        try {
          closeSync(openSync(path, 'r'));
          return true;
        } catch {
          return false;
        }
      },
      // loadfile(path, mode): the chunk (named '@path'), or nil and luaL_loadfilex's message
      loadfile: rawHost((L: number) => {
        const path = readString(lua, L, 1);
        const mode = lua.lua_type(L, 2) === LUA_TSTRING ? readString(lua, L, 2) : null;
        let code: Buffer;
        try {
          if (!guard.mayRead(path)) throw Object.assign(new Error('denied'), { denied: true });
          code = readFileSync(path);
        } catch (e) {
          lua.lua_pushnil(L);
          const err = (e as { denied?: boolean }).denied ? denied('lua_read_paths') : systemErrorOf(e);
          pushString(lua, L, `cannot ${(e as { code?: string }).code === 'EISDIR' ? 'read' : 'open'} ${path}: ${err.message}`);
          return 2;
        }
        const status = this.opts.loadChunk(L, skipFirstLine(code), `@${path}`, mode);
        if (status === 0) return 1;
        lua.lua_pushnil(L);
        lua.lua_rotate(L, -2, 1); // lua_insert
        return 2;
      }),
      // new_handle(): a fresh full userdata for a FILE* (the Lua side sets its metatable)
      new_handle: rawHost((L: number) => {
        lua.lua_newuserdatauv(L, 0, 0);
        return 1;
      }),
    };
  }

  private run(command: string, input: Buffer | undefined, stdout: 'pipe' | 'inherit'): SpawnSyncReturns<Buffer> {
    const left = this.opts.remainingMs();
    // stdin: /dev/null unless io.popen(cmd, 'w') feeds it (Dovecot's processes have no stdin)
    return spawnSync('/bin/sh', ['-c', command], {
      input,
      stdio: [input ? 'pipe' : 'ignore', stdout, 'inherit'],
      maxBuffer: MAX_COMMAND_OUTPUT,
      ...(Number.isFinite(left) ? { timeout: Math.max(1, Math.floor(left)) } : {}),
    });
  }
}

/** luaL_loadfilex skips a UTF-8 BOM and a first line starting with '#' (keeping the newline). */
function skipFirstLine(code: Buffer): Buffer {
  let start = 0;
  if (code[0] === 0xef && code[1] === 0xbb && code[2] === 0xbf) start = 3;
  if (code[start] !== 0x23) return start ? code.subarray(start) : code;
  const nl = code.indexOf(10, start);
  return nl < 0 ? Buffer.alloc(0) : code.subarray(nl);
}

