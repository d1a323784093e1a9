// Not-authenticated state: STARTTLS (RFC 3501 §6.2.1), AUTHENTICATE (§6.2.2, RFC 4959 SASL-IR) and
// LOGIN (§6.2.3), with Dovecot's disable_plaintext_auth / LOGINDISABLED rules and reply texts.
import { countLogin } from '../../metrics/metrics.js';
import { AUTH_FAILED_MSG, createMechanism, type AuthResult } from '../../auth/index.js';
import { SASL_ABORTED, SASL_BASE64_ERROR, decodeClientResponse } from '../../auth/sasl/index.js';
import type { CommandContext } from './context.js';
import { bad, no, NOT_AUTHENTICATED, type CommandHandler, type CommandResult } from './types.js';

const PLAINTEXT_DISALLOWED = 'Plaintext authentication disallowed on non-secure (SSL/TLS) connections.';
/** SASL mechanisms that send the password in clear (refused where plaintext auth is disabled). */
const PLAINTEXT_MECHANISMS = new Set(['PLAIN', 'LOGIN']);

export const STARTTLS: CommandHandler<'STARTTLS'> = {
  states: NOT_AUTHENTICATED,
  async run(session, tag) {
    if (session.client.secured) return bad('TLS is already active.');
    const handshake = session.startTls(`${tag} OK Begin TLS negotiation now.\r\n`);
    if (!handshake) return bad("TLS support isn't enabled.");
    await handshake;
    return null;
  },
};

export const LOGIN: CommandHandler<'LOGIN'> = {
  states: NOT_AUTHENTICATED,
  async run(session, _tag, cmd) {
    if (session.plaintextAuthDisabled) return no(PLAINTEXT_DISALLOWED, 'PRIVACYREQUIRED');
    const result = await session.auth.authenticatePlain({
      user: cmd.username,
      password: cmd.password,
      ...clientInfo(session, 'PLAIN'),
    });
    return finishAuth(session, result, 'PLAIN', cmd.username);
  },
};

export const AUTHENTICATE: CommandHandler<'AUTHENTICATE'> = {
  states: NOT_AUTHENTICATED,
  async run(session, _tag, cmd) {
    const name = cmd.mechanism.toUpperCase();
    const offered = session.settings.auth_mechanisms.map((m) => m.toUpperCase());
    if (!offered.includes(name)) return no('Unsupported authentication mechanism.');
    if (PLAINTEXT_MECHANISMS.has(name) && session.plaintextAuthDisabled) return no(PLAINTEXT_DISALLOWED, 'PRIVACYREQUIRED');
    const mechanism = createMechanism(name, session.auth, clientInfo(session, name));
    if (!mechanism) return no('Unsupported authentication mechanism.');
    // RFC 4959: "=" is an empty initial response; no initial response means the first step gets null.
    let response: Buffer | null = cmd.initialResponse === null ? null : cmd.initialResponse === '=' ? Buffer.alloc(0) : Buffer.from(cmd.initialResponse, 'base64');
    for (;;) {
      const step = await mechanism.step(response);
      if ('done' in step) return finishAuth(session, step.done, name, '');
      session.respond(`+ ${step.challenge.toString('base64')}\r\n`);
      const line = await session.client.readLine();
      if (line === null) return null;
      const decoded = decodeClientResponse(line);
      if ('aborted' in decoded) return bad(SASL_ABORTED);
      if ('error' in decoded) return bad(SASL_BASE64_ERROR);
      response = decoded.data;
    }
  },
};

function clientInfo(session: CommandContext, mech: string) {
  return {
    service: 'imap',
    localIp: session.client.localIp,
    remoteIp: session.client.remoteIp,
    localPort: session.client.localPort,
    remotePort: session.client.remotePort,
    secured: session.secured,
    mech,
    sessionId: session.sessionId,
  };
}

async function finishAuth(session: CommandContext, result: AuthResult, method: string, user: string): Promise<CommandResult | null> {
  countLogin(result.ok ? 'success' : result.reason === 'tempfail' ? 'tempfail' : 'failure', method, 'imap');
  if (!result.ok) {
    session.noteAuthFailure(user, method);
    if (result.reason === 'tempfail') return no(result.message, 'UNAVAILABLE');
    // Dovecot keeps the reason from the client except for explicit passdb messages.
    return no(result.message || AUTH_FAILED_MSG, 'AUTHENTICATIONFAILED');
  }
  return session.completeLogin(result, method);
}
