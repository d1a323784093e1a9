// Entry of the thread that runs Lua test files (`roost lua test`). A test file's Lua is ordinary
// synchronous code, while what it asks for (a login, a delivery, a passdb lookup) runs on the
// main thread through the real pool and stores, asynchronously. So each `roost.test` call posts
// a request on the port and this thread sleeps in Atomics.wait until the main thread has answered
// (the reverse of blocking-helper.ts). The scripts under test run in the pool's own workers,
// never here, so nothing waits on itself.
import { readFileSync } from 'node:fs';
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { LuaFactory } from 'wasmoon';
import type { RunnerMessage, RunnerRequest } from './runner-protocol.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
const factory = new LuaFactory();

function hostCall(op: string, args: string): string {
  Atomics.store(flag, 0, 0);
  port.postMessage({ kind: 'call', op, args } satisfies RunnerMessage);
  for (;;) {
    Atomics.wait(flag, 0, 0);
    Atomics.store(flag, 0, 0);
    const m = receiveMessageOnPort(port);
    if (m) return (m.message as { reply: string }).reply;
  }
}

// The test file is loaded with its real name as chunk name, so errors and assertion failures
// read `<file>:<line>:`.
const BOOTSTRAP = `
local module_source, test_source, chunk_name, filter = __roost_module, __roost_source, __roost_chunk, __roost_filter
local host = __roost_host
__roost_module, __roost_source, __roost_chunk, __roost_filter, __roost_host = nil, nil, nil, nil, nil
package.preload['roost.test'] = function()
  return assert(load(module_source, '=roost.test', 't'))(host)
end
local t = require('roost.test')
local f, err = load(test_source, chunk_name, 't')
if not f then return host('load_error', err) end
local ok, e = xpcall(f, debug.traceback)
if not ok then return host('load_error', tostring(e)) end
t.__run(filter)
`;

async function runFile(req: RunnerRequest): Promise<void> {
  const engine = await factory.createEngine({ openStandardLibs: true, injectObjects: false, enableProxy: false });
  try {
    engine.global.set('__roost_host', hostCall);
    engine.global.set('__roost_module', req.moduleSource);
    engine.global.set('__roost_source', readFileSync(req.file, 'utf8').replace(/^#![^\n]*/, ''));
    engine.global.set('__roost_chunk', `@${req.displayName}`);
    if (req.filter !== undefined) engine.global.set('__roost_filter', req.filter);
    engine.doStringSync(BOOTSTRAP);
  } catch (e) {
    hostCall('load_error', e instanceof Error ? e.message : String(e));
  } finally {
    engine.global.close();
  }
}

port.on('message', (req: RunnerRequest) => {
  void runFile(req).then(() => port.postMessage({ kind: 'done' } satisfies RunnerMessage));
});
