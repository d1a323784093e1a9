// SASL mechanisms as pure server-side state machines: the protocol layer base64-decodes client
// responses, feeds them to `step`, and writes challenges as `+ <base64>` lines (RFC 4422).
import type { AuthFailure, AuthResult, AuthService } from '../service.js';
import type { AuthClientInfo } from '../request.js';

export type SaslStep = { challenge: Buffer } | { done: AuthResult };

export interface SaslMechanism {
  readonly name: string;
  /** `null` = no initial response (the client sent none, or `=` was not used). */
  step(clientResponse: Buffer | null): Promise<SaslStep>;
}

export interface SaslContext {
  auth: AuthService;
  info: AuthClientInfo;
}

/** Dovecot's texts for protocol-level SASL failures (auth-request-handler.c / login-common). */
export const SASL_BASE64_ERROR = 'Invalid base64 data in continued response';
export const SASL_ABORTED = 'Authentication aborted by client.';

export function saslFailure(message: string, reason: AuthFailure['reason'] = 'mismatch'): SaslStep {
  return { done: { ok: false, reason, message } };
}

/** Decodes one client line: `*` aborts, otherwise strict base64 (RFC 4648 §4). */
export function decodeClientResponse(line: string): { data: Buffer } | { aborted: true } | { error: string } {
  if (line === '*') return { aborted: true };
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(line)) return { error: SASL_BASE64_ERROR };
  return { data: Buffer.from(line, 'base64') };
}
