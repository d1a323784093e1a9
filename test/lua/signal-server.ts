// Lets a Lua script tell a test where it has got to, without timing anything: the script calls
// `signal("at", name)` (a blocking dovecot.http GET) and the test polls `reached`. `signal("meet",
// name)` is answered only once two names have arrived, so two scripts can show they run at the
// same time (one after the other, the first would wait for a meeting that never comes).
// `signal("hold", name)` is answered when the test calls `release(name)`.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SignalServer {
  reached: Set<string>;
  /** Lua source defining `signal(kind, name)`, to put before a script's own code. */
  lua: string;
  /** Ends a `signal("meet", name)` that waits: the test is the second to arrive. */
  meet(): Promise<void>;
  /** Answers the `signal("hold", name)` waiting (or the next one to come). */
  release(name: string): void;
  close(): Promise<void>;
}

export async function startSignalServer(): Promise<SignalServer> {
  const reached = new Set<string>();
  const meeting = new Map<string, ServerResponse>();
  const held = new Map<string, ServerResponse>();
  const released = new Set<string>();
  const server = createServer((req, res) => {
    const [, kind, name] = (req.url ?? '').split('/');
    reached.add(name!);
    if (kind === 'hold') {
      if (released.has(name!)) return void res.end('ok');
      return void held.set(name!, res);
    }
    if (kind !== 'meet') return void res.end('ok');
    meeting.set(name!, res);
    if (meeting.size === 2) {
      for (const r of meeting.values()) r.end('met');
      meeting.clear();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    reached,
    lua: String.raw`
local function signal(kind, name)
  local res = dovecot.http.client({ request_timeout_msecs = 20000 }):request({ url = "${url}/" .. kind .. "/" .. name }):submit()
  return res:status() == 200
end
`,
    release(name) {
      released.add(name);
      held.get(name)?.end('ok');
      held.delete(name);
    },
    async meet() {
      await fetch(`${url}/meet/test`);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
