// The wasm allocator (src/lua/wasm-allocator.ts) keeps the accounts exactly as the JS allocator
// did (lua-runtime.ts): the same answers and the same bytes in use for the same requests, the
// limit refusing growth only, and an account that outlives its state keeping its last figures.
// (The limit as scripts see it: limits.test.ts.)
import { accountedAlloc, WasmAllocator, type WasmAccountView } from '../../src/lua/wasm-allocator.js';

/** The JS allocator (the fallback lua-runtime.ts uses), bound to one account. */
function jsAlloc(acc: WasmAccountView, realloc: (p: number, n: number) => number, free: (p: number) => void) {
  return (pointer: number, oldSize: number, newSize: number): number => accountedAlloc(acc, realloc, free, pointer, oldSize, newSize);
}

test('the wasm allocator answers and counts like the JS one', () => {
  let next = 16;
  const calls: string[] = [];
  // A fake heap: realloc fails for one size, so a failed realloc is covered too.
  const realloc = (p: number, n: number) => {
    calls.push(`r${p},${n}`);
    return n === 777 ? 0 : (next += 16);
  };
  const free = (p: number) => void calls.push(`f${p}`);
  const wasm = WasmAllocator.create(realloc, free);
  expect(wasm).not.toBeNull();
  const a = wasm!.account(3);
  const b = wasm!.account(5000); // beyond the first page: the memory grows
  const ref: WasmAccountView = { used: 0, max: undefined };
  const refAlloc = jsAlloc(ref, (p, n) => (n === 777 ? 0 : 1), () => undefined);

  const live: Array<{ p: number; size: number }> = [];
  let refusals = 0;
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 3000; i++) {
    if (i === 1000) a.max = ref.max = 20_000;
    if (i === 2000) a.max = ref.max = undefined;
    const op = rnd(4);
    let ptr = 0;
    let osize = rnd(9); // a NULL pointer's osize is a type tag
    let nsize = [0, 8, 24, 100, 777, 4096][rnd(6)]!;
    if (op > 0 && live.length > 0) {
      const k = rnd(live.length);
      ptr = live[k]!.p;
      osize = live[k]!.size;
      live.splice(k, 1);
    } else if (nsize === 0) nsize = 32;
    const got = wasm!.alloc(3, ptr, osize, nsize);
    const want = refAlloc(ptr, osize, nsize);
    expect(got !== 0).toBe(want !== 0);
    if (got) live.push({ p: got, size: nsize });
    else if (ptr && nsize > 0) live.push({ p: ptr, size: osize }); // a refused realloc keeps the block
    expect(a.used).toBe(ref.used);
    expect(a.refused).toBe(ref.refused === true);
    if (a.refused) {
      refusals++;
      a.refused = ref.refused = false;
    }
  }
  expect(refusals).toBeGreaterThan(0);
  expect(calls.some((c) => c.startsWith('f'))).toBe(true);
  expect(b.used).toBe(0);

  // A closed state's account keeps its figures though its slot is reused.
  const used = a.used;
  a.detach();
  wasm!.account(3);
  expect(a.used).toBe(used);
  expect(a.max).toBeUndefined();
});
