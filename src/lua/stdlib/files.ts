// The open files of one Lua state, behind Lua's `FILE*` handles (src/lua/chunks/stdlib.lua).
// Every operation is a synchronous fs call on the real filesystem, made from the Lua worker
// thread. Writes go straight to the file (no stdio buffer: another process sees them at once,
// and setvbuf has nothing to change). Results are those of Lua 5.4's liolib.c on glibc.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { systemError, systemErrorOf, type SystemError } from './errno.js';

/** How a handle reaches its bytes. */
type Backing =
  /** A file descriptor opened by io.open / io.tmpfile; `pos` is the stdio position. */
  | { kind: 'fd'; fd: number; append: boolean }
  /** io.stdout / io.stderr: the process's descriptors, written in sequence. */
  | { kind: 'stream'; fd: number }
  /** io.stdin (Dovecot's processes read /dev/null) and io.popen(cmd, 'r') output. */
  | { kind: 'memory'; data: Buffer }
  /** io.popen(cmd, 'w'): the input collected for the command, which runs at close. */
  | { kind: 'command-input'; chunks: Buffer[]; run(input: Buffer): CommandStatus };

export type CommandStatus = { exited: true; code: number } | { exited: false; signal: number };

interface OpenFile {
  backing: Backing;
  pos: number;
  /** An append-mode file: its position is the descriptor's offset from now on (appendFile). */
  afterWrite?(): void;
  /** The command status of io.popen(cmd, 'r'), reported by close. */
  status?: CommandStatus;
  /** Read-ahead of an fd file (stdio's buffer): bytes from file offset `aheadAt`; dropped by writes and seeks. */
  ahead?: Buffer;
  aheadAt?: number;
}

/** Read-ahead size (glibc's stdio buffer is one block; larger costs nothing here). */
const READ_AHEAD = 64 * 1024;

export type ReadResult = Buffer | string | null | SystemError;

const CHUNK = 4096;
/** A read larger than the state's memory limit: raised as Lua's "not enough memory". */
export const NO_MEMORY: SystemError = { message: 'not enough memory', errno: 0 };
/** L_MAXLENNUM (liolib.c): longest numeral read("n") accepts. */
const MAX_NUMERAL = 200;

export class OpenFiles {
  private readonly files = new Map<number, OpenFile>();
  private nextId = 1;

  constructor() {
    this.files.set(0, { backing: { kind: 'memory', data: Buffer.alloc(0) }, pos: 0 });
    this.files.set(1, { backing: { kind: 'stream', fd: 1 }, pos: 0 });
    this.files.set(2, { backing: { kind: 'stream', fd: 2 }, pos: 0 });
    this.nextId = 3;
  }

  /** fopen(path, mode) with mode already checked ([rwa]+?b*, 'b' removed). */
  open(path: string, mode: string): number | SystemError {
    try {
      const fd = openSync(path, mode);
      const append = mode.startsWith('a');
      return this.add(append && FD_OFFSETS ? appendFile(fd) : { backing: { kind: 'fd', fd, append }, pos: 0 });
    } catch (e) {
      return systemErrorOf(e);
    }
  }

  addFd(fd: number): number {
    return this.add({ backing: { kind: 'fd', fd, append: false }, pos: 0 });
  }

  addOutput(data: Buffer, status: CommandStatus): number {
    return this.add({ backing: { kind: 'memory', data }, pos: 0, status });
  }

  addCommandInput(run: (input: Buffer) => CommandStatus): number {
    return this.add({ backing: { kind: 'command-input', chunks: [], run }, pos: 0 });
  }

  private add(file: OpenFile): number {
    const id = this.nextId++;
    this.files.set(id, file);
    return id;
  }

  /** Reads up to n bytes at the position; null at end of file. */
  private bytesAt(f: OpenFile, n: number): Buffer | null | SystemError {
    const b = f.backing;
    switch (b.kind) {
      case 'memory': {
        if (f.pos >= b.data.length) return null;
        return b.data.subarray(f.pos, f.pos + n);
      }
      case 'fd': {
        const at = f.aheadAt ?? 0;
        if (f.ahead && f.pos >= at && f.pos < at + f.ahead.length) return f.ahead.subarray(f.pos - at, f.pos - at + n);
        const buf = Buffer.allocUnsafe(Math.max(n, READ_AHEAD));
        try {
          const got = readSync(b.fd, buf, 0, buf.length, f.pos);
          if (got === 0) return null;
          f.ahead = buf.subarray(0, got);
          f.aheadAt = f.pos;
          return f.ahead.subarray(0, n);
        } catch (e) {
          return systemErrorOf(e);
        }
      }
      default:
        return systemError('EBADF');
    }
  }

  /**
   * file:read with one format: 'l'/'L' a line, 'a' the rest, 'c' n bytes, 'n' the text of a
   * numeral (converted by the Lua side, like lua_stringtonumber). null = end of file / no match.
   */
  read(id: number, format: string, count = 0, maxBytes = Infinity): ReadResult {
    const f = this.files.get(id);
    if (!f) return systemError('EBADF');
    switch (format) {
      case 'l':
      case 'L':
        return this.readLine(f, format === 'L', maxBytes);
      case 'a': {
        const parts: Buffer[] = [];
        let total = 0;
        for (;;) {
          const got = this.bytesAt(f, 64 * 1024);
          if (got === null) break;
          if (!Buffer.isBuffer(got)) return got;
          total += got.length;
          if (total > maxBytes) return NO_MEMORY;
          parts.push(Buffer.from(got));
          f.pos += got.length;
        }
        return Buffer.concat(parts);
      }
      case 'c': {
        if (count === 0) {
          // test_eof: "" unless at end of file
          const got = this.bytesAt(f, 1);
          return got === null || Buffer.isBuffer(got) ? (got === null ? null : Buffer.alloc(0)) : got;
        }
        if (count > maxBytes) return NO_MEMORY;
        const parts: Buffer[] = [];
        let left = count;
        while (left > 0) {
          const got = this.bytesAt(f, Math.min(left, 64 * 1024));
          if (got === null) break;
          if (!Buffer.isBuffer(got)) return got;
          parts.push(Buffer.from(got));
          f.pos += got.length;
          left -= got.length;
        }
        return parts.length === 0 ? null : Buffer.concat(parts);
      }
      case 'n':
        return this.readNumeral(f);
      default:
        return systemError('EINVAL');
    }
  }

  private readLine(f: OpenFile, keepNewline: boolean, maxBytes: number): ReadResult {
    const parts: Buffer[] = [];
    let total = 0;
    let any = false;
    for (;;) {
      const got = this.bytesAt(f, READ_AHEAD);
      if (got === null) break;
      if (!Buffer.isBuffer(got)) return got;
      any = true;
      const nl = got.indexOf(10);
      if (nl >= 0) {
        const line = got.subarray(0, keepNewline ? nl + 1 : nl);
        f.pos += nl + 1;
        // a view of the read-ahead: the caller copies it into Lua at once
        return parts.length === 0 ? line : Buffer.concat([...parts, line]);
      }
      total += got.length;
      if (total > maxBytes) return NO_MEMORY;
      parts.push(Buffer.from(got));
      f.pos += got.length;
    }
    return any ? Buffer.concat(parts) : null;
  }

  /** l_getn (liolib.c): the longest prefix that can start a numeral; the look-ahead stays unread. */
  private readNumeral(f: OpenFile): ReadResult {
    let window: Buffer = Buffer.alloc(0);
    let at = 0;
    const peek = (): number | SystemError => {
      if (at >= window.length) {
        f.pos += at;
        at = 0;
        const got = this.bytesAt(f, CHUNK);
        window = Buffer.isBuffer(got) ? got : Buffer.alloc(0);
        if (got === null) return -1;
        if (!Buffer.isBuffer(got)) return got;
      }
      return window[at]!;
    };
    let text = '';
    let c = peek();
    while (typeof c === 'number' && (c === 32 || (c >= 9 && c <= 13))) {
      at++;
      c = peek();
    }
    const test2 = (set: string): boolean => {
      const ch = peek();
      if (typeof ch !== 'number' || ch < 0 || !set.includes(String.fromCharCode(ch))) return false;
      if (text.length >= MAX_NUMERAL) {
        text = '';
        return false;
      }
      text += String.fromCharCode(ch);
      at++;
      return true;
    };
    const isDigit = (ch: number, hex: boolean) =>
      (ch >= 48 && ch <= 57) || (hex && ((ch >= 65 && ch <= 70) || (ch >= 97 && ch <= 102)));
    const readDigits = (hex: boolean): number => {
      let n = 0;
      for (;;) {
        const ch = peek();
        if (typeof ch !== 'number' || ch < 0 || !isDigit(ch, hex) || text.length >= MAX_NUMERAL) return n;
        text += String.fromCharCode(ch);
        at++;
        n++;
      }
    };
    let count = 0;
    let hex = false;
    test2('-+');
    if (test2('00')) {
      if (test2('xX')) hex = true;
      else count = 1;
    }
    count += readDigits(hex);
    if (test2('.')) count += readDigits(hex);
    if (count > 0 && test2(hex ? 'pP' : 'eE')) {
      test2('-+');
      readDigits(false);
    }
    const last = peek();
    f.pos += at;
    if (typeof last !== 'number') return last;
    return text;
  }

  write(id: number, data: Buffer): true | SystemError {
    const f = this.files.get(id);
    if (!f) return systemError('EBADF');
    f.ahead = undefined;
    const b = f.backing;
    try {
      switch (b.kind) {
        case 'stream':
          writeSync(b.fd, data);
          return true;
        case 'command-input':
          b.chunks.push(Buffer.from(data));
          return true;
        case 'memory':
          return systemError('EBADF');
        case 'fd':
          if (b.append) {
            writeSync(b.fd, data, 0, data.length, null);
            // The stdio position: the end of the file as this write left it.
            if (f.afterWrite) f.afterWrite();
            else f.pos = fstatSync(b.fd).size;
          } else {
            let done = 0;
            while (done < data.length) done += writeSync(b.fd, data, done, data.length - done, f.pos + done);
            f.pos += data.length;
          }
          return true;
      }
    } catch (e) {
      return systemErrorOf(e);
    }
  }

  /** fseek + ftell. */
  seek(id: number, whence: 'set' | 'cur' | 'end', offset: number): number | SystemError {
    const f = this.files.get(id);
    if (!f) return systemError('EBADF');
    const b = f.backing;
    let size: number;
    if (b.kind === 'fd') {
      try {
        const st = fstatSync(b.fd);
        if (!st.isFile() && !st.isBlockDevice()) return systemError(st.isDirectory() ? 'EISDIR' : 'ESPIPE');
        size = st.size;
      } catch (e) {
        return systemErrorOf(e);
      }
    } else if (b.kind === 'memory' && f.status === undefined && id === 0) {
      size = 0;
    } else {
      return systemError('ESPIPE');
    }
    f.ahead = undefined;
    const base = whence === 'set' ? 0 : whence === 'cur' ? f.pos : size;
    const target = base + offset;
    if (target < 0) return systemError('EINVAL');
    f.pos = target;
    return target;
  }

  /** fclose / pclose: true, a system error, or the command's status for io.popen. */
  close(id: number): true | SystemError | CommandStatus {
    const f = this.files.get(id);
    if (!f || id <= 2) return systemError('EBADF');
    this.files.delete(id);
    const b = f.backing;
    if (b.kind === 'command-input') return b.run(Buffer.concat(b.chunks));
    if (b.kind === 'memory') return f.status ?? true;
    if (b.kind === 'fd') {
      try {
        closeSync(b.fd);
      } catch (e) {
        return systemErrorOf(e);
      }
    }
    return true;
  }

  /** Closes what the state left open (lua_close ran the handles' __gc; this is the backstop). */
  closeAll(): void {
    for (const [id, f] of this.files) {
      if (f.backing.kind === 'fd') {
        try {
          closeSync(f.backing.fd);
        } catch {
          // already gone
        }
      }
      this.files.delete(id);
    }
  }
}

/** Linux shows a descriptor's offset in /proc/self/fdinfo (proc(5)). */
const FD_OFFSETS = existsSync('/proc/self/fdinfo');

/**
 * An append-mode file whose position after a write is read from the descriptor only when it is
 * asked for. O_APPEND moves the descriptor's offset to the end of the file as the write left it
 * (write(2)), and only this state's own calls move it again, so a later look gives what an
 * fstat right after the write gave, even when another process appended meanwhile. (An fstat per
 * write cost a Lua worker about 7 KB of garbage and 10-15 µs: issue #18.)
 */
function appendFile(fd: number): OpenFile {
  let pos = 0;
  let atOffset = false;
  return {
    backing: { kind: 'fd', fd, append: true },
    get pos() {
      if (atOffset) {
        atOffset = false;
        pos = fdOffset(fd) ?? fstatSync(fd).size;
      }
      return pos;
    },
    set pos(value: number) {
      atOffset = false;
      pos = value;
    },
    afterWrite() {
      atOffset = true;
    },
  };
}

/** The descriptor's current offset (the `pos:` line of /proc/self/fdinfo/<fd>), or null. */
function fdOffset(fd: number): number | null {
  try {
    const m = /^pos:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
