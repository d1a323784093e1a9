// Messages between a Lua worker and its HTTP helper thread (see http-sync.ts).

export interface HttpRequestMessage {
  id: number;
  method: string;
  url: string;
  headers: Array<[string, string]>;
  /** The request body, sent with Content-Length (as Dovecot's http-client does). */
  payload: Uint8Array;
  /** proxy_url: an HTTP proxy (absolute-URI request line; CONNECT tunnel for https). */
  proxyUrl?: string;
  /** request_timeout_msecs: no response within this time → TIMED_OUT. */
  timeoutMs: number;
  /** connect_timeout_msecs. */
  connectTimeoutMs: number;
  maxRedirects: number;
}

export interface HttpResponseMessage {
  id: number;
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  /** The response body as received (bytes, never decoded). */
  body: Uint8Array;
}

/**
 * `roost lua test` sets this environment variable to its gateway's URL before the Lua pool starts:
 * the HTTP helper threads then ask the gateway about every request (src/cli/lua-test/http-gateway.ts).
 */
export const TEST_GATEWAY_ENV = 'ROOST_LUA_TEST_HTTP_GATEWAY';

/** What the gateway answers about one request: a response, a fault to simulate, or go ahead for real. */
export type TestGatewayDecision =
  | { kind: 'respond'; status: number; reason: string; headers: Array<[string, string]>; body: string }
  | { kind: 'fault'; fault: 'timeout' | 'refused' | 'dns' | 'reset' }
  | { kind: 'pass' };

// Dovecot's internal client error codes (lib-http/http-client.h, enum
// http_client_request_error, starting at HTTP_RESPONSE_STATUS_INTERNAL = 9000).
export const HTTP_ERROR = {
  ABORTED: 9000,
  INVALID_URL: 9001,
  HOST_LOOKUP_FAILED: 9002,
  CONNECT_FAILED: 9003,
  INVALID_RESPONSE: 9004,
  CONNECTION_LOST: 9005,
  BROKEN_PAYLOAD: 9006,
  BAD_RESPONSE: 9007,
  TIMED_OUT: 9008,
} as const;
