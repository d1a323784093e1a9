import { createHash } from 'node:crypto';
import { cryptB64Groups } from '../../src/auth/schemes/crypt-alphabet.js';
import { SHA256_ORDER, SHA512_ORDER, shaCrypt } from '../../src/auth/schemes/sha-crypt.js';
import { verifyPassword } from '../../src/auth/schemes/registry.js';

// Ulrich Drepper's test vectors (https://www.akkadia.org/drepper/SHA-crypt.txt), as glibc and
// libxcrypt test them: rounds= given or not, clamped below 1000, salts cut to 16 characters.
const DREPPER: ReadonlyArray<readonly [setting: string, password: string, expected: string]> = [
  ['$5$saltstring', 'Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
  ['$5$rounds=5000$saltstring', 'Hello world!', '$5$rounds=5000$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
  ['$5$rounds=10000$saltstringsaltstring', 'Hello world!', '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA'],
  ['$5$rounds=5000$toolongsaltstring', 'This is just a test', '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5'],
  ['$5$rounds=1400$anotherlongsaltstring', 'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    '$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1'],
  ['$5$rounds=77777$short', 'we have a short salt string but not a short password', '$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/'],
  ['$5$rounds=123456$asaltof16chars..', 'a short string', '$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD'],
  ['$5$rounds=10$roundstoolow', 'the minimum number is still observed', '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC'],
  ['$6$saltstring', 'Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  ['$6$rounds=10000$saltstringsaltstring', 'Hello world!',
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
  ['$6$rounds=5000$toolongsaltstring', 'This is just a test',
    '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0'],
  ['$6$rounds=1400$anotherlongsaltstring', 'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1'],
  ['$6$rounds=77777$short', 'we have a short salt string but not a short password',
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
  ['$6$rounds=123456$asaltof16chars..', 'a short string',
    '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1'],
  ['$6$rounds=10$roundstoolow', 'the minimum number is still observed',
    '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.'],
];

describe('SHA-crypt: Drepper/glibc test vectors', () => {
  test.each(DREPPER)('%s', async (setting, password, expected) => {
    expect(await shaCrypt(Buffer.from(password), setting)).toBe(expected);
    // The stored string is its own setting (verify path).
    expect(await shaCrypt(Buffer.from(password), expected)).toBe(expected);
  });

  test('through the registry, as {SHA256-CRYPT}, {SHA512-CRYPT} and {CRYPT}', async () => {
    for (const [, password, expected] of DREPPER.filter(([s]) => !/rounds=(77777|123456)/.test(s))) {
      const scheme = expected.startsWith('$5$') ? 'SHA256-CRYPT' : 'SHA512-CRYPT';
      expect(await verifyPassword(password, `{${scheme}}${expected}`)).toEqual({ ok: true });
      expect(await verifyPassword(password, `{CRYPT}${expected}`)).toEqual({ ok: true });
      expect(await verifyPassword(password + 'x', `{${scheme}}${expected}`)).toEqual({ ok: false });
    }
  });
});

/** The specification step by step with node:crypto, one update per piece (the former implementation). */
function referenceRounds(alg: 'sha256' | 'sha512', password: Buffer, salt: Buffer, rounds: number): Buffer {
  const H = () => createHash(alg);
  const repeatTo = (src: Buffer, length: number) => Buffer.concat(Array(Math.ceil(length / src.length) + 1).fill(src)).subarray(0, length);
  const b = H().update(password).update(salt).update(password).digest();
  const a = H().update(password).update(salt).update(repeatTo(b, password.length));
  for (let n = password.length; n > 0; n >>= 1) a.update(n & 1 ? b : password);
  let c = a.digest();
  const dp = H();
  for (let i = 0; i < password.length; i++) dp.update(password);
  const p = repeatTo(dp.digest(), password.length);
  const ds = H();
  for (let i = 0; i < 16 + c[0]!; i++) ds.update(salt);
  const s = repeatTo(ds.digest(), salt.length);
  for (let i = 0; i < rounds; i++) {
    const h = H().update(i & 1 ? p : c);
    if (i % 3) h.update(s);
    if (i % 7) h.update(p);
    h.update(i & 1 ? c : p);
    c = h.digest();
  }
  return c;
}

describe('SHA-crypt: same digest as the step-by-step computation', () => {
  // Password lengths across SHA-256/512 block boundaries (a round input spans 1 to 4 blocks), salts 0-16.
  const cases = [0, 1, 7, 16, 31, 32, 33, 55, 56, 63, 64, 65, 100, 111, 112, 127, 128, 129, 200].map((len, i) => ({
    password: Buffer.from(Array.from({ length: len }, (_, j) => (j * 37 + i * 11 + 1) & 0xff)),
    salt: 'abcdefghijklmnopqrstuvwxyz./0123'.slice(i % 5, (i % 5) + (i % 17)),
  }));
  test.each(['5', '6'] as const)('$%s$ with assorted password and salt lengths', async (id) => {
    const [alg, order] = id === '5' ? (['sha256', SHA256_ORDER] as const) : (['sha512', SHA512_ORDER] as const);
    for (const { password, salt } of cases) {
      const ref = referenceRounds(alg, password, Buffer.from(salt, 'latin1'), 1001);
      const got = await shaCrypt(password, `$${id}$rounds=1001$${salt}`);
      expect({ len: password.length, got }).toEqual({ len: password.length, got: `$${id}$rounds=1001$${salt}$${cryptB64Groups(ref, order)}` });
    }
  });
});
