// One auth client connection (Dovecot auth/auth-client-connection.c + auth-request-handler.c):
// the handshake, then AUTH and CONT requests, several in flight at once, each answered with
// CONT, OK or FAIL as its SASL mechanism and the passdb chain decide. Protocol errors a correct
// client never makes (unknown mechanism, missing service, duplicate id, unknown command)
// disconnect the client with a "BUG:" log line, as Dovecot does.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { createMechanism, type AuthClientInfo, type AuthService } from '../auth/index.js';
import { decodeClientResponse, type SaslMechanism, type SaslStep } from '../auth/sasl/index.js';
import type { Logger } from '../log/logger.js';
import { countLogin } from '../metrics/metrics.js';
import { newSessionId } from '../mail-user/session-id.js';
import {
  AUTH_PROTOCOL_MAJOR, failLine, handshakeLines, okLine, protocolFailLine, splitLine,
} from './protocol.js';

export interface AuthConnectionOptions {
  auth: AuthService;
  /** Mechanisms offered on MECH lines and accepted in AUTH (auth_mechanisms, upper case). */
  mechanisms: string[];
  /** Connection number announced as CUID. */
  cuid: number;
  maxLineLength: number;
  log: Logger;
}

interface PendingRequest {
  mechanism: SaslMechanism;
  /** For the metrics: the mechanism's name and the client's `service=` (Postfix: smtp). */
  mechName: string;
  service: string;
  /** A CONT was sent and the client may answer it once (accept_cont_input). */
  acceptCont: boolean;
}

export class AuthClientConnection {
  private buffer = '';
  private versionReceived = false;
  private minorVersion = 0;
  private clientPid: number | undefined;
  private closed = false;
  private readonly requests = new Map<number, PendingRequest>();

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: AuthConnectionOptions,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    const cookie = randomBytes(16).toString('hex');
    this.write(handshakeLines(opts.mechanisms, process.pid, opts.cuid, cookie));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.requests.clear();
    this.socket.destroy();
  }

  private write(lines: string[]): void {
    if (!this.closed) this.socket.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Disconnects with Dovecot's log line for a misbehaving client. */
  private bug(message: string): void {
    this.opts.log.error(message);
    this.close();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      if (this.closed) return;
      const nl = this.buffer.indexOf('\n');
      if (nl < 0) break;
      let line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > this.opts.maxLineLength) return this.bug('BUG: Authentication client sent too long line');
      this.handleLine(line);
    }
    if (this.buffer.length > this.opts.maxLineLength) this.bug('BUG: Authentication client sent too long line');
  }

  private handleLine(line: string): void {
    const [command = '', ...args] = splitLine(line);
    if (this.clientPid === undefined) return this.handshakeLine(command, args, line);
    if (command === 'AUTH') return this.authBegin(args);
    if (command === 'CONT') return this.authContinue(args);
    this.bug(`BUG: Authentication client sent unknown command: ${sanitize(line)}`);
  }

  private handshakeLine(command: string, args: string[], line: string): void {
    if (command === 'VERSION') {
      if (args[0] !== String(AUTH_PROTOCOL_MAJOR)) {
        return this.bug('Authentication client not compatible with this server (mixed old and new binaries?)');
      }
      this.versionReceived = true;
      this.minorVersion = Number(args[1] ?? 0) || 0;
      return;
    }
    if (command === 'CPID' && this.versionReceived) {
      const pid = Number(args[0]);
      if (!/^\d+$/.test(args[0] ?? '') || pid === 0) return this.bug('BUG: Authentication client said it\'s PID 0');
      this.clientPid = pid;
      return;
    }
    this.bug(`BUG: Authentication client sent unknown handshake command: ${sanitize(line)}`);
  }

  /** AUTH <id> <mech> [service=...] [lip=] [rip=] [secured] [no-penalty] ... [resp=<base64>] */
  private authBegin(args: string[]): void {
    const pid = this.clientPid;
    const id = requestId(args[0]);
    const mechName = (args[1] ?? '').toUpperCase();
    if (id === undefined || id === 0 || !args[1]) return this.bug(`BUG: Authentication client ${pid} sent broken AUTH request`);
    if (!this.opts.mechanisms.includes(mechName)) {
      return this.bug(`BUG: Authentication client ${pid} requested unsupported authentication mechanism ${sanitize(args[1])}`);
    }
    const params = new Map<string, string>();
    let resp: string | undefined;
    let rest = args.slice(2);
    while (rest.length) {
      const p = rest[0]!;
      rest = rest.slice(1);
      const eq = p.indexOf('=');
      const name = eq < 0 ? p : p.slice(0, eq);
      const value = eq < 0 ? '' : p.slice(eq + 1);
      if (name === 'resp') {
        resp = value;
        break; // resp must be the last parameter
      }
      params.set(name, value); // unknown parameters are ignored (auth_request_import_auth)
    }
    if (rest.length) return this.bug(`BUG: Authentication client ${pid} sent AUTH parameters after 'resp'`);
    const service = params.get('service');
    if (!service) return this.bug(`BUG: Authentication client ${pid} didn't specify service in request`);
    if (this.requests.has(id)) return this.bug(`BUG: Authentication client ${pid} sent a duplicate ID ${id}`);

    const info: AuthClientInfo = {
      service,
      localIp: params.get('lip') || undefined,
      remoteIp: params.get('rip') || undefined,
      localPort: port(params.get('lport')),
      remotePort: port(params.get('rport')),
      secured: params.has('secured'),
      cert: params.has('valid-client-cert') ? 'valid' : '',
      mech: mechName,
      sessionId: params.get('session') || newSessionId(),
      clientPid: pid,
      authOnly: true,
      noPenalty: params.has('no-penalty'),
    };
    const mechanism = createMechanism(mechName, this.opts.auth, info);
    if (!mechanism) return this.bug(`BUG: Authentication client ${pid} requested unsupported authentication mechanism ${mechName}`);

    // An absent initial response and, before protocol 1.2, an empty one (Exim) mean "none";
    // an empty one or "=" is an empty response (auth_request_handler_auth_begin).
    let initial: Buffer | null;
    if (resp === undefined || (resp === '' && this.minorVersion < 2)) initial = null;
    else if (resp === '' || resp === '=') initial = Buffer.alloc(0);
    else {
      const decoded = decodeClientResponse(resp);
      if (!('data' in decoded)) {
        this.opts.log.info(`${mechName.toLowerCase()}(?,${info.remoteIp ?? ''}): Invalid base64 data in initial response`);
        return this.write([protocolFailLine(id, 'Invalid base64 data in initial response', 'invalid_base64')]);
      }
      initial = decoded.data;
    }
    const request: PendingRequest = { mechanism, mechName, service, acceptCont: false };
    this.requests.set(id, request);
    this.step(id, request, initial);
  }

  /** CONT <id> <base64> */
  private authContinue(args: string[]): void {
    const id = requestId(args[0]);
    if (id === undefined) return this.bug('BUG: Authentication client sent broken CONT request');
    const request = this.requests.get(id);
    if (!request) return this.write([protocolFailLine(id, 'Authentication request timed out')]);
    if (!request.acceptCont) {
      this.requests.delete(id);
      return this.write([protocolFailLine(id, 'Unexpected continuation')]);
    }
    if (args[1] === undefined) return this.bug('BUG: Authentication client sent broken CONT request');
    request.acceptCont = false;
    const decoded = args[1] === '' ? { data: Buffer.alloc(0) } : decodeClientResponse(args[1]);
    if (!('data' in decoded)) {
      this.requests.delete(id);
      return this.write([protocolFailLine(id, 'Invalid base64 data in continued response', 'invalid_base64')]);
    }
    this.step(id, request, decoded.data);
  }

  private step(id: number, request: PendingRequest, response: Buffer | null): void {
    request.mechanism.step(response).then(
      (step) => this.reply(id, request, step),
      (err: unknown) => {
        this.opts.log.error(`auth request ${id} failed: ${(err as Error).message}`);
        this.reply(id, request, { done: { ok: false, reason: 'tempfail', message: '' } });
      },
    );
  }

  private reply(id: number, request: PendingRequest, step: SaslStep): void {
    // The client went away, or the request was replaced meanwhile: nobody to answer.
    if (this.closed || this.requests.get(id) !== request) return;
    if ('challenge' in step) {
      request.acceptCont = true;
      return this.write([`CONT\t${id}\t${step.challenge.toString('base64')}`]);
    }
    this.requests.delete(id);
    // Counted as IMAP's logins are: one per finished attempt (a protocol error is not one).
    countLogin(step.done.ok ? 'success' : step.done.reason === 'tempfail' ? 'tempfail' : 'failure', request.mechName, request.service);
    this.write([step.done.ok ? okLine(id, step.done) : failLine(id, step.done)]);
  }
}

function requestId(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

function port(s: string | undefined): number | undefined {
  return s && /^\d{1,5}$/.test(s) ? Number(s) : undefined;
}

/** str_sanitize for log lines: control characters shown as '?', at most 160 characters. */
function sanitize(s: string): string {
  const clean = s.replace(/[\x00-\x1f]/g, '?');
  return clean.length > 160 ? `${clean.slice(0, 157)}...` : clean;
}
