// Attaches the configured plugins (mail_plugins) to a server context: mail-lua, and push
// notifications. Protocol layers never see any of this.
import { installMailLua } from '../lua/mail-lua.js';
import type { CreatedContext } from './context.js';

export interface Plugins {
  close(): Promise<void>;
}

/**
 * Dovecot loads mail-lua with `mail_plugins = mail_lua`; Roost also loads it when a global
 * `mail_lua_script` is set, since a script configured but silently never run helps no one.
 */
export function wantsMailLua(ctx: CreatedContext): boolean {
  return ctx.settings.mail_plugins.includes('mail_lua') || Boolean(ctx.settings.plugin.mail_lua_script);
}

export async function installPlugins(ctx: CreatedContext): Promise<Plugins> {
  const removers: (() => void)[] = [];
  if (wantsMailLua(ctx)) removers.push(installMailLua(ctx.mailUsers, () => ctx.luaPool()));
  return {
    close: async () => {
      for (const r of removers.reverse()) r();
    },
  };
}
