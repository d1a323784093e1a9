// One authentication or user lookup in progress: who is asking, from where, and the passdb/userdb
// fields gathered so far. Drivers see it read-only through AuthDbRequest.
import { asciiLowercase } from '../config/var-expand.js';
import { authVarExpand, authVarExpandEscaped } from './var-expand.js';

export interface AuthClientInfo {
  service: string;
  localIp?: string;
  remoteIp?: string;
  localPort?: number;
  remotePort?: number;
  /** Connection is TLS or otherwise trusted (Dovecot %c: "secured"). */
  secured?: boolean;
  mech?: string;
  sessionId?: string;
  /** Client certificate state (Dovecot %k): "valid" or "". */
  cert?: string;
  /** PID of the client process (Dovecot %p); Roost's protocol layers run in-process. */
  clientPid?: number;
  /**
   * Authentication only, no login follows (Dovecot's auth_only: requests from an auth-client
   * socket such as Postfix's): no userdb lookup, and a passdb `nologin` is returned, not refused.
   */
  authOnly?: boolean;
  /** The client asked not to be delayed or counted by the auth penalty (`no-penalty`). */
  noPenalty?: boolean;
}

export interface AuthDbRequest {
  readonly user: string;
  readonly info: AuthClientInfo;
  readonly passdbFields: Readonly<Record<string, string>>;
  readonly userdbFields: Readonly<Record<string, string>>;
  /** A previous passdb already verified the password (or this is a lookup without one). */
  readonly skipPasswordCheck: boolean;
  readonly passdbsSeenUserUnknown: boolean;
  readonly passdbsSeenInternalFailure: boolean;
  readonly userdbsSeenInternalFailure: boolean;
  expand(template: string): string;
  /** `expand` for a query: values escaped with `escape`; unknown variables give `error`. */
  expandEscaped(template: string, escape: (value: string) => string): { value: string; error?: string };
  /** Dovecot's auth variable table (long names; null = no value), e.g. for Lua's `req.<name>`. */
  variables(): Record<string, string | null>;
  /** `<driver>(<user>[,<rip>][,<session>]): ` — Dovecot's auth-db log prefix. */
  logPrefix(driver: string): string;
}

const userPart = (u: string) => {
  const at = u.indexOf('@');
  return at < 0 ? u : u.slice(0, at);
};
const domainPart = (u: string) => {
  const at = u.indexOf('@');
  return at < 0 ? null : u.slice(at + 1);
};

export class AuthRequest implements AuthDbRequest {
  user: string;
  /** The username as the client sent it. */
  readonly originalUser: string;
  masterUser?: string;
  /** Master login: the user to become once the master authenticated. */
  loginUser?: string;
  passdbFields: Record<string, string> = {};
  userdbFields: Record<string, string> = {};
  skipPasswordCheck = false;
  passdbsSeenUserUnknown = false;
  passdbsSeenInternalFailure = false;
  userdbsSeenInternalFailure = false;
  /** Plaintext from PLAIN/LOGIN; exposed as %w. */
  password?: string;
  /** The authenticating username exactly as the client sent it (Dovecot's original_username). */
  clientUser?: string;

  constructor(
    user: string,
    readonly info: AuthClientInfo,
  ) {
    this.user = user;
    this.originalUser = user;
  }

  /**
   * The auth variable table of Dovecot 2.3 (auth_request_get_var_expand_table), with the values
   * Dovecot gives when something is unknown (checked with doveadm auth test): IPs nil, ports "0",
   * `home` always nil, `secured` and `cert` "".
   */
  variables(): Record<string, string | null> {
    const i = this.info;
    const domain = domainPart(this.user);
    const loginUser = this.loginUser ?? null;
    const authUser = this.masterUser ?? this.originalUser;
    const lip = i.localIp ?? null;
    const rip = i.remoteIp ?? null;
    const lport = String(i.localPort ?? 0);
    const rport = String(i.remotePort ?? 0);
    const mech = i.mech ?? null;
    return {
      user: this.user,
      username: userPart(this.user),
      domain,
      service: i.service,
      home: null,
      lip,
      rip,
      pid: String(i.clientPid ?? 0),
      password: this.password ?? null,
      mech,
      secured: i.secured ? 'secured' : '',
      lport,
      rport,
      cert: i.cert ?? '',
      login_user: loginUser,
      login_username: loginUser === null ? null : userPart(loginUser),
      login_domain: loginUser === null ? null : domainPart(loginUser),
      session: i.sessionId ?? null,
      real_lip: lip,
      real_rip: rip,
      real_lport: lport,
      real_rport: rport,
      domain_first: domain === null ? null : domain.split('@')[0]!,
      domain_last: domain === null ? null : this.user.slice(this.user.lastIndexOf('@') + 1),
      master_user: this.masterUser ?? null,
      session_pid: null,
      orig_user: this.originalUser,
      orig_username: userPart(this.originalUser),
      orig_domain: domainPart(this.originalUser),
      auth_user: authUser,
      auth_username: userPart(authUser),
      auth_domain: domainPart(authUser),
      local_name: null,
      client_id: null,
      local_ip: lip,
      remote_ip: rip,
      local_port: lport,
      remote_port: rport,
      real_local_ip: lip,
      real_remote_ip: rip,
      real_local_port: lport,
      real_remote_port: rport,
      mechanism: mech,
      original_user: this.originalUser,
      original_username: userPart(this.originalUser),
      original_domain: domainPart(this.originalUser),
    };
  }

  expand(template: string): string {
    // The templates every lookup expands (a passwd-file path, its `%u` key, auth_username_format's
    // default `%Lu`), without building the ~45-value variable table for each.
    if (!template.includes('%')) return template;
    if (template === '%u') return this.user;
    if (template === '%Lu') return asciiLowercase(this.user);
    return authVarExpand(template, { variables: this.variables(), passdbFields: this.passdbFields, userdbFields: this.userdbFields });
  }

  expandEscaped(template: string, escape: (value: string) => string): { value: string; error?: string } {
    return authVarExpandEscaped(template, { variables: this.variables(), passdbFields: this.passdbFields, userdbFields: this.userdbFields }, escape);
  }

  logPrefix(driver: string): string {
    const parts = [this.user, this.info.remoteIp, this.info.sessionId].filter((p): p is string => !!p);
    return `${driver}(${parts.join(',')}): `;
  }
}
