// sortInSlices: the order of Array.prototype.sort (stable), whatever the run length, and other
// work gets turns of the event loop while it sorts.
import { nextTurn, sortInSlices } from '../../../src/imap/commands/yield-slices.js';

/** A small deterministic generator (no Math.random: a failure must be reproducible). */
function numbers(count: number, seed: number, range: number): number[] {
  let x = seed;
  return Array.from({ length: count }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % range;
  });
}

describe('sortInSlices', () => {
  const byValue = (a: { v: number }, b: { v: number }) => a.v - b.v;

  test.each([0, 1, 2, 3, 7, 8, 9, 100, 513, 1024, 5000])('%i items: the same order as Array.prototype.sort, ties kept in order', async (count) => {
    // Many ties (range 10): stability shows in the indexes.
    const items = numbers(count, count + 1, 10).map((v, i) => ({ v, i }));
    const expected = [...items].sort(byValue);
    for (const run of [1, 3, 4, 512]) {
      expect(await sortInSlices(items, byValue, { sliceMs: 0, run })).toEqual(expected);
    }
    expect(items.map((x) => x.i)).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  test('other work runs between slices', async () => {
    const items = numbers(20000, 7, 1e9);
    let turns = 0;
    let sorting = true;
    const counter = (async () => {
      while (sorting) {
        await nextTurn();
        turns++;
      }
    })();
    const sorted = await sortInSlices(items, (a, b) => a - b, { sliceMs: 0, run: 256 });
    sorting = false;
    await counter;
    expect(sorted).toEqual([...items].sort((a, b) => a - b));
    expect(turns).toBeGreaterThan(10);
  });
});
