// The Lua allocator (lua_Alloc) with lua_memory_limit accounting, as a tiny wasm module that
// calls the Lua module's own realloc/free: every Lua allocation then stays in wasm instead of
// crossing into JS and back (those crossings were ~7-10% of a Lua worker's CPU, issue #18).
// The accounting is exactly the JS allocator's (lua-runtime.ts): per state (`ud`) the bytes in
// use and the limit; growth past the limit is refused (NULL) and flagged.
//
// Each account is 24 bytes of this module's own memory: used (f64), max (f64, 0 = none),
// refused (i32). f64 like the JS numbers they replace (sizes stay exact far beyond 2^32).

/** Bytes per account in the module's memory. */
const SLOT = 24;

// Hand-assembled (no wat toolchain in the dependencies). Imports e.r = realloc(ptr, size) -> ptr
// and e.f = free(ptr); exports a = alloc(ud, ptr, osize, nsize) -> ptr, m = the accounts' memory.
// Lua's l_alloc semantics (lauxlib.c): nsize 0 frees; otherwise realloc, where a NULL `ptr`'s
// osize is the object's type tag, not a size (counted like the JS allocator: nsize only).
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const i32 = 0x7f;
  const f64 = 0x7c;
  const F64_ZERO = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];
  // locals: 0 ud, 1 ptr, 2 osize, 3 nsize; 4 base (i32), 5 end (f64), 6 result (i32)
  const body = [
    0x03, 0x01, i32, 0x01, f64, 0x01, i32,
    // base = ud * SLOT
    0x20, 0x00, 0x41, SLOT, 0x6c, 0x21, 0x04,
    // if nsize == 0: if ptr { used -= osize; free(ptr) }; return 0
    0x20, 0x03, 0x45, 0x04, 0x40,
    0x20, 0x01, 0x04, 0x40,
    0x20, 0x04, 0x20, 0x04, 0x2b, 0x03, 0x00, 0x20, 0x02, 0xb7, 0xa1, 0x39, 0x03, 0x00,
    0x20, 0x01, 0x10, 0x01,
    0x0b,
    0x41, 0x00, 0x0f,
    0x0b,
    // end = used + nsize - (ptr ? osize : 0)
    0x20, 0x04, 0x2b, 0x03, 0x00, 0x20, 0x03, 0xb7, 0xa0,
    0x20, 0x02, 0xb7, ...F64_ZERO, 0x20, 0x01, 0x1b, 0xa1, 0x21, 0x05,
    // if nsize > osize && max != 0 && end > max { refused = 1; return 0 }
    0x20, 0x03, 0x20, 0x02, 0x4a, 0x04, 0x40,
    0x20, 0x04, 0x2b, 0x03, 0x08, ...F64_ZERO, 0x62, 0x04, 0x40,
    0x20, 0x05, 0x20, 0x04, 0x2b, 0x03, 0x08, 0x64, 0x04, 0x40,
    0x20, 0x04, 0x41, 0x01, 0x36, 0x02, 0x10,
    0x41, 0x00, 0x0f,
    0x0b, 0x0b, 0x0b,
    // result = realloc(ptr, nsize); if result { used = end }; return result
    0x20, 0x01, 0x20, 0x03, 0x10, 0x00, 0x22, 0x06,
    0x04, 0x40, 0x20, 0x04, 0x20, 0x05, 0x39, 0x03, 0x00, 0x0b,
    0x20, 0x06,
    0x0b,
  ];
  const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
  const code = [0x01, ...leb(body.length), ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x03, 0x60, 0x02, i32, i32, 0x01, i32, 0x60, 0x01, i32, 0x00, 0x60, 0x04, i32, i32, i32, i32, 0x01, i32]),
    ...section(2, [0x02, 0x01, 0x65, 0x01, 0x72, 0x00, 0x00, 0x01, 0x65, 0x01, 0x66, 0x00, 0x01]),
    ...section(3, [0x01, 0x02]),
    ...section(5, [0x01, 0x00, 0x01]),
    ...section(7, [0x02, 0x01, 0x61, 0x00, 0x02, 0x01, 0x6d, 0x02, 0x00]),
    ...section(10, code),
  ]);
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** A state's memory account, kept in the allocator's memory while the state lives. */
export interface WasmAccountView {
  used: number;
  max: number | undefined;
  refused?: boolean;
  timeoutRaise?: boolean;
}

/**
 * The accounting in JS (wasmoon's traceAllocations rules, per state): the fallback when the wasm
 * allocator cannot be built, and what the wasm one must answer like. A lua_Alloc call.
 */
export function accountedAlloc(
  acc: WasmAccountView,
  realloc: (pointer: number, size: number) => number,
  free: (pointer: number) => void,
  pointer: number,
  oldSize: number,
  newSize: number,
): number {
  if (newSize === 0) {
    if (pointer) {
      acc.used -= oldSize;
      free(pointer);
    }
    return 0;
  }
  const end = acc.used + (pointer ? newSize - oldSize : newSize);
  if (newSize > oldSize && acc.max && end > acc.max) {
    acc.refused = true;
    return 0;
  }
  const p = realloc(pointer, newSize);
  if (p) acc.used = end;
  return p;
}

export class WasmAllocator {
  /** The lua_Alloc function, to put in the Lua module's function table. */
  readonly alloc: (ud: number, ptr: number, osize: number, nsize: number) => number;
  private readonly memory: WebAssembly.Memory;
  private f64: Float64Array;
  private i32: Int32Array;

  private constructor(instance: WebAssembly.Instance) {
    const exp = instance.exports as { a: WasmAllocator['alloc']; m: WebAssembly.Memory };
    this.alloc = exp.a;
    this.memory = exp.m;
    this.f64 = new Float64Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** Null when the module cannot be built here (the JS allocator is used then). */
  static create(realloc: (ptr: number, size: number) => number, free: (ptr: number) => void): WasmAllocator | null {
    try {
      const module = new WebAssembly.Module(moduleBytes());
      return new WasmAllocator(new WebAssembly.Instance(module, { e: { r: realloc, f: free } }));
    } catch {
      return null;
    }
  }

  /** A zeroed account for `ud` (its slot grows the memory when needed). */
  account(ud: number): WasmAccount {
    while ((ud + 1) * SLOT > this.memory.buffer.byteLength) {
      this.memory.grow(1);
      this.f64 = new Float64Array(this.memory.buffer);
      this.i32 = new Int32Array(this.memory.buffer);
    }
    const a = new WasmAccount(this, ud);
    this.f64[ud * 3] = 0;
    this.f64[ud * 3 + 1] = 0;
    this.i32[ud * 6 + 4] = 0;
    return a;
  }

  /** @internal */ getUsed(ud: number): number {
    return this.f64[ud * 3]!;
  }
  /** @internal */ setUsed(ud: number, v: number): void {
    this.f64[ud * 3] = v;
  }
  /** @internal */ getMax(ud: number): number {
    return this.f64[ud * 3 + 1]!;
  }
  /** @internal */ setMax(ud: number, v: number): void {
    this.f64[ud * 3 + 1] = v;
  }
  /** @internal */ getRefused(ud: number): boolean {
    return this.i32[ud * 6 + 4] !== 0;
  }
  /** @internal */ setRefused(ud: number, v: boolean): void {
    this.i32[ud * 6 + 4] = v ? 1 : 0;
  }
}

/**
 * The MemoryAccount of a state whose allocator is the wasm one: reads and writes go to the
 * allocator's memory until `detach` (the state is closed and its slot may be reused), after which
 * it keeps the last values, as the plain JS account object did.
 */
export class WasmAccount implements WasmAccountView {
  timeoutRaise?: boolean;
  private detached: { used: number; max: number | undefined; refused: boolean } | null = null;

  constructor(
    private readonly allocator: WasmAllocator,
    private readonly ud: number,
  ) {}

  get used(): number {
    return this.detached ? this.detached.used : this.allocator.getUsed(this.ud);
  }
  set used(v: number) {
    if (this.detached) this.detached.used = v;
    else this.allocator.setUsed(this.ud, v);
  }
  get max(): number | undefined {
    if (this.detached) return this.detached.max;
    const m = this.allocator.getMax(this.ud);
    return m === 0 ? undefined : m;
  }
  set max(v: number | undefined) {
    if (this.detached) this.detached.max = v;
    // 0 and undefined both mean no limit (the JS allocator tests `acc.max &&`).
    else this.allocator.setMax(this.ud, v === undefined || Number.isNaN(v) ? 0 : v);
  }
  get refused(): boolean {
    return this.detached ? this.detached.refused : this.allocator.getRefused(this.ud);
  }
  set refused(v: boolean) {
    if (this.detached) this.detached.refused = v;
    else this.allocator.setRefused(this.ud, v);
  }

  detach(): void {
    if (!this.detached) this.detached = { used: this.used, max: this.max, refused: this.refused };
  }
}
