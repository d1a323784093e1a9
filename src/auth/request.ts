// One authentication or user lookup in progress: who is asking, from where, and the passdb/userdb
// fields gathered so far. Drivers see it read-only through AuthDbRequest.
import { varExpand } from './var-expand.js';

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
}

export interface AuthDbRequest {
  readonly user: string;
  readonly info: AuthClientInfo;
  readonly passdbFields: Readonly<Record<string, string>>;
  readonly userdbFields: Readonly<Record<string, string>>;
  /** A previous passdb already verified the password (or this is a lookup without one). */
  readonly skipPasswordCheck: boolean;
  expand(template: string): string;
}

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
  /** Plaintext from PLAIN/LOGIN; exposed as %w. */
  password?: string;

  constructor(
    user: string,
    readonly info: AuthClientInfo,
  ) {
    this.user = user;
    this.originalUser = user;
  }

  variable(name: string): string | undefined {
    const at = this.user.indexOf('@');
    switch (name) {
      case 'user':
        return this.user;
      case 'username':
        return at < 0 ? this.user : this.user.slice(0, at);
      case 'domain':
        return at < 0 ? undefined : this.user.slice(at + 1);
      case 'domain_first':
        return at < 0 ? undefined : this.user.slice(at + 1).split('@')[0];
      case 'domain_last':
        return at < 0 ? undefined : this.user.slice(this.user.lastIndexOf('@') + 1);
      case 'service':
        return this.info.service;
      case 'lip':
      case 'local_ip':
        return this.info.localIp;
      case 'rip':
      case 'remote_ip':
        return this.info.remoteIp;
      case 'lport':
      case 'local_port':
        return String(this.info.localPort ?? 0);
      case 'rport':
      case 'remote_port':
        return String(this.info.remotePort ?? 0);
      case 'mech':
      case 'mechanism':
        return this.info.mech;
      case 'secured':
        return this.info.secured ? 'secured' : '';
      case 'password':
        return this.password;
      case 'session':
        return this.info.sessionId;
      case 'orig_user':
      case 'original_user':
        return this.originalUser;
      case 'master_user':
        return this.masterUser;
      case 'pid':
        return String(process.pid);
      case 'home':
        return undefined; // Dovecot: %h is always empty in auth
    }
    if (name.startsWith('passdb:') || name.startsWith('userdb:')) {
      const [, field = '', dflt] = name.split(':');
      const fields = name.startsWith('passdb:') ? this.passdbFields : this.userdbFields;
      return fields[field] ?? dflt ?? '';
    }
    if (name.startsWith('env:')) return process.env[name.slice(4)] ?? '';
    return undefined;
  }

  expand(template: string): string {
    return varExpand(template, (n) => this.variable(n));
  }

  /** `<driver>(<user>,<rip>[,<session>]): ` — Dovecot's auth-db log prefix. */
  logPrefix(driver: string): string {
    const parts = [this.user, this.info.remoteIp, this.info.sessionId].filter((p): p is string => !!p);
    return `${driver}(${parts.join(',')}): `;
  }
}
