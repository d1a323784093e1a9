// driver = static: fixed fields from args. passdb `args = password=... ` or `nopassword` (plus any
// extra fields); userdb `args = uid=... gid=... home=/srv/%d/%n ...`, values %-expanded per request.
// Unlike Dovecot (which does a passdb lookup to test existence unless allow_all_users=yes), the
// static userdb here accepts every user; chain it after a userdb that knows the users if needed.
import { parseKeyValues } from '../var-expand.js';
import type { AuthDriverModule } from './types.js';

export const staticDriver: AuthDriverModule = {
  name: 'static',
  passdb: (args) => {
    const pairs = parseKeyValues(args);
    return {
      driver: 'static',
      defaultScheme: 'PLAIN',
      lookup: async (req) => {
        const fields: Record<string, string> = {};
        let password: string | undefined;
        for (const [k, v] of pairs) {
          if (k === 'password') password = req.expand(v);
          else fields[k] = req.expand(v);
        }
        return { result: 'ok', password, fields };
      },
    };
  },
  userdb: (args) => {
    const pairs = parseKeyValues(args).filter(([k]) => k !== 'allow_all_users');
    return {
      driver: 'static',
      lookup: async (req) => ({ result: 'ok', fields: Object.fromEntries(pairs.map(([k, v]) => [k, req.expand(v)])) }),
    };
  },
};
