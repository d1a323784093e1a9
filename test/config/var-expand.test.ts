import { createHash } from 'node:crypto';
import { mailUserVarTable, varExpand, VarExpandError } from '../../src/config/index.js';

// The mail user of spec §7.4's verified examples ("test"), plus a domain user.
const ctx = mailUserVarTable({
  user: 'test', service: 'imap', home: '/home/test', localIp: '127.0.0.1', remoteIp: '10.1.2.3', pid: 4242,
  uid: 1000, gid: 1001, session: 'Fq3bW9AP', hostname: 'mx.example.org', userdbFields: { quota: '1G' },
});
const domainUser = mailUserVarTable({ user: 'Alice.Smith@Example.ORG', service: 'lmtp', authUser: 'admin@example.org' });
const x = (t: string) => varExpand(t, ctx);

describe('varExpand (Dovecot 2.3 % expansion)', () => {
  test('short and long mail-user variables', () => {
    expect(x('%u %n %d|%s %h %l %r %p %i')).toBe('test test |imap /home/test 127.0.0.1 10.1.2.3 4242 1000');
    expect(x('%{user} %{username} %{service} %{home} %{lip} %{rip} %{local_ip} %{remote_ip} %{gid} %{session} %{hostname}'))
      .toBe('test test imap /home/test 127.0.0.1 10.1.2.3 127.0.0.1 10.1.2.3 1001 Fq3bW9AP mx.example.org');
    expect(varExpand('%n|%d|%{auth_user}|%{auth_username}|%{auth_domain}', domainUser))
      .toBe('Alice.Smith|Example.ORG|admin@example.org|admin|example.org');
    expect(x('100%% sure')).toBe('100% sure');
  });

  test('unknown variables become UNSUPPORTED_VARIABLE_<name>, not errors', () => {
    expect(x('%z')).toBe('UNSUPPORTED_VARIABLE_z');
    expect(x('%{nope}')).toBe('UNSUPPORTED_VARIABLE_nope');
    expect(x('%{nope:arg}')).toBe('UNSUPPORTED_VARIABLE_nope');
    expect(x('%{passdb:x}')).toBe('UNSUPPORTED_VARIABLE_passdb');
  });

  test('modifiers', () => {
    expect(varExpand('%Lu %Uu %Ln %Ud', domainUser)).toBe('alice.smith@example.org ALICE.SMITH@EXAMPLE.ORG alice.smith EXAMPLE.ORG');
    expect(x('%Ru %Mu %Dd')).toBe('tset 098f6bcd4621d373cade4e832627b4f6 ');
    expect(varExpand('%Dd', domainUser)).toBe('Example,dc=ORG');
    expect(varExpand('%E{userdb:q}', mailUserVarTable({ user: 'u', service: 's', userdbFields: { q: `a"b'c\\d` } }))).toBe(`a\\"b\\'c\\\\d`);
    expect(x('%X{uid} %X{home}')).toBe('3e8 0');
    expect(varExpand('[%T{userdb:v}]', mailUserVarTable({ user: 'u', service: 's', userdbFields: { v: 'x \t\n' } }))).toBe('[x]');
    expect(x('%LRu')).toBe('tset');
    // H (legacy hash) and N (md5-based) with the width as modulo: results are below the modulo.
    expect(parseInt(x('%256Hu'), 16)).toBeLessThan(256);
    expect(x('%Nu')).toBe('4621d373');
    expect(x('%4Nu')).toBe((BigInt('0x098f6bcd4621d373') % 4n).toString(16));
  });

  test('offset, width and zero padding', () => {
    expect(x('%3.2u')).toBe('t');
    expect(x('%2u')).toBe('te');
    expect(x('%1.2u')).toBe('es');
    expect(x('%-2.1u')).toBe('s');
    expect(x('%.-1u')).toBe('tes');
    expect(x('%06{uid}')).toBe('001000');
    expect(x('%02u')).toBe('test');
  });

  test('functions: userdb with default, env', () => {
    expect(x('%{userdb:quota} %{userdb:foo:dflt} [%{userdb:foo}]')).toBe('1G dflt []');
    expect(varExpand('%{env:ROOST_TEST_VAR}|%{env:ROOST_UNSET}', { ...ctx, env: { ROOST_TEST_VAR: 'v1' } })).toBe('v1|');
  });

  test('hash functions and their options', () => {
    expect(x('%{md5:user}')).toBe('098f6bcd4621d373cade4e832627b4f6');
    expect(x('%{sha256:user}')).toBe('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
    expect(x('%{sha1;format=base64:user}')).toBe(Buffer.from('a94a8fe5ccb19ba61c4c0873d391e987982fbbd3', 'hex').toString('base64'));
    expect(x('%{sha256;truncate=12:user}')).toBe('09f8');
    expect(x('%{sha256;truncate=16:user}')).toBe('9f86');
    // Each round hashes the previous digest's bytes.
    expect(x('%{md5;rounds=2:user}')).toBe(md5(Buffer.from('098f6bcd4621d373cade4e832627b4f6', 'hex')));
    expect(x('%{md5;salt=%{service}:user}')).toBe(md5(Buffer.from('imaptest')));
    expect(x('%{pkcs5:user}')).toHaveLength(512);
  });

  test('hard errors throw with Dovecot text', () => {
    expect(() => x('%{sha256;rounds=x:user}')).toThrow(new VarExpandError("Cannot parse hash arguments:'x' is not number for rounds"));
    expect(() => x('%{sha256;rounds=0:user}')).toThrow('Cannot parse hash arguments:rounds must be at least 1');
    expect(() => x('%{sha256;truncate=y:user}')).toThrow("Cannot parse hash arguments:'y' is not number for truncbits");
    expect(() => x('%{sha256;format=oct:user}')).toThrow("Cannot parse hash arguments:'oct' is not supported format");
    expect(() => x('%{if;1;===;1;a;b}')).toThrow("if: Unsupported comparator '==='");
    expect(() => x('%{if;a;==;1;a;b}')).toThrow('if: a (lhs) is not a number');
    expect(() => x('%{if;1;<;b;a;b}')).toThrow('if: b (rhs) is not a number');
    expect(() => x('%{if;1;==}')).toThrow('if: requires four or five parameters, got 2');
  });

  test.each([
    ['%{if;1;==;1;yes;no}', 'yes'], ['%{if;2;<;10;yes;no}', 'yes'], ['%{if;2;<=;2;yes;no}', 'yes'], ['%{if;3;>;2;yes;no}', 'yes'],
    ['%{if;3;>=;4;yes;no}', 'no'], ['%{if;3;!=;3;yes;no}', 'no'], ['%{if;%u;eq;test;yes;no}', 'yes'], ['%{if;%u;ne;test;yes;no}', 'no'],
    ['%{if;10;lt;9;yes;no}', 'yes'], ['%{if;a;le;a;yes;no}', 'yes'], ['%{if;b;gt;a;yes;no}', 'yes'], ['%{if;a;ge;b;yes;no}', 'no'],
    ['%{if;%u;*;t*t;yes;no}', 'yes'], ['%{if;%u;!*;t?st;yes;no}', 'no'], ['%{if;%u;~;^te;yes;no}', 'yes'], ['%{if;%u;!~;^x;yes;no}', 'yes'],
    ['%{if;%d;ne;;%d;%{hostname}}', 'mx.example.org'], ['%{if;1;==;2;yes}', ''], ['%{if;a\\;b;eq;a\\;b;same;diff}', 'same'],
    ['[%{if;%{userdb:quota};eq;1G;big;small}]', '[big]'],
  ])('%s -> %s', (template, expected) => expect(x(template)).toBe(expected));
});

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}
