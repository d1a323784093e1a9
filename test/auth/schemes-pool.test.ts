import { AsyncHashPool, HASH_POOL_SIZE } from '../../src/auth/schemes/hash-thread.js';
import { hashPasswordHere } from '../../src/auth/schemes/registry.js';

describe('hash helper pool (main thread)', () => {
  const pools: AsyncHashPool[] = [];
  const newPool = (size: number) => {
    const pool = new AsyncHashPool(size);
    pools.push(pool);
    return pool;
  };
  afterAll(async () => Promise.all(pools.map((p) => p.close())));

  test('sizes itself to the cores, at most 4', () => {
    expect(HASH_POOL_SIZE).toBeGreaterThanOrEqual(1);
    expect(HASH_POOL_SIZE).toBeLessThanOrEqual(4);
  });

  test('starts threads only as concurrent jobs need them', async () => {
    const pool = newPool(2);
    expect(pool.threadCount).toBe(0);
    const stored = await hashPasswordHere('secret', 'SHA512-CRYPT');
    for (let i = 0; i < 3; i++) expect(await pool.verify('secret', stored, {})).toEqual({ ok: true });
    expect(pool.threadCount).toBe(1);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.verify(i % 2 ? 'secret' : 'wrong', stored, {})));
    expect(results).toEqual(Array.from({ length: 8 }, (_, i) => ({ ok: i % 2 === 1 })));
    expect(pool.threadCount).toBe(2);
  });

  test('hashes and reports errors per job', async () => {
    const pool = newPool(2);
    const [a, b] = await Promise.all([pool.hash('pw', 'SHA256-CRYPT', {}), pool.hash('pw', 'SHA512-CRYPT', { rounds: 1000 })]);
    expect(a).toMatch(/^\{SHA256-CRYPT\}\$5\$/);
    expect(b).toMatch(/^\{SHA512-CRYPT\}\$6\$rounds=1000\$/);
    expect(await pool.verify('pw', b, {})).toEqual({ ok: true });
    await expect(pool.hash('pw', 'NOPE', {})).rejects.toThrow('Unknown scheme NOPE');
  });
});
