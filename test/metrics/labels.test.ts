// The label sets a client or a configuration could grow stay bounded: an auth client's
// `service=` outside Dovecot's protocols is counted as `other`; past MAX_LUA_SCRIPT_LABELS
// distinct scripts (a userdb may give each user its own mail_lua_script) further ones are `other`.
import { countLogin, countLuaCall, countLuaFailure, MAX_LUA_SCRIPT_LABELS, registry } from '../../src/metrics/metrics.js';

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('logins by service: known protocols by name, anything else as other', async () => {
  countLogin('success', 'plain', 'smtp');
  countLogin('failure', 'PLAIN', 'x'.repeat(40));
  countLogin('failure', 'PLAIN', 'made-up');
  const text = await registry.metrics();
  expect(sample(text, 'roost_logins_total{result="success",mechanism="PLAIN",service="smtp"}')).toBe(1);
  expect(sample(text, 'roost_logins_total{result="failure",mechanism="PLAIN",service="other"}')).toBe(2);
});

test('Lua metrics by script, bounded', async () => {
  for (let i = 0; i < MAX_LUA_SCRIPT_LABELS + 10; i++) countLuaCall(`/home/u${i}/user.lua`, 'mail_user_created');
  countLuaFailure('/home/u0/user.lua', 'Lua script exceeded lua_call_timeout (5000 ms)');
  countLuaFailure('/home/u999/user.lua', 'not enough memory (lua_memory_limit 1024 bytes reached)');
  countLuaFailure('/home/u0/user.lua', 'attempt to call a nil value');
  const text = await registry.metrics();
  expect(sample(text, 'roost_lua_calls_total{script="/home/u0/user.lua",function="mail_user_created"}')).toBe(1);
  expect(sample(text, 'roost_lua_calls_total{script="other",function="mail_user_created"}')).toBe(10);
  expect(text.match(/^roost_lua_calls_total\{/gm)).toHaveLength(MAX_LUA_SCRIPT_LABELS + 1);
  expect(sample(text, 'roost_lua_timeouts_total{script="/home/u0/user.lua"}')).toBe(1);
  expect(sample(text, 'roost_lua_memory_errors_total{script="other"}')).toBe(1);
});
