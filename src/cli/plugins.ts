// Attaches the configured plugins (mail_plugins) to a server context: mail-lua, and push
// notifications. Protocol layers never see any of this.
import { installMailLua } from '../lua/mail-lua.js';
import { pushCompanionPlan } from '../lua/push-notification/lua-driver.js';
import { installPushNotification } from '../lua/push-notification/plugin.js';
import type { CreatedContext } from './context.js';

export interface Plugins {
  /** Waits for the push notifications already queued (the plugins stay installed). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Dovecot loads mail-lua with `mail_plugins = mail_lua`; Roost also loads it when a global
 * `mail_lua_script` is set, since a script configured but silently never run helps no one.
 */
export function wantsMailLua(ctx: CreatedContext): boolean {
  return ctx.settings.mail_plugins.includes('mail_lua') || Boolean(ctx.settings.plugin.mail_lua_script);
}

/** `mail_plugins = ... push_notification push_notification_lua` (per user, userdb may add it). */
export function wantsPushNotification(ctx: CreatedContext): boolean {
  const p = ctx.settings.mail_plugins;
  return p.includes('push_notification') && p.includes('push_notification_lua');
}

export async function installPlugins(ctx: CreatedContext): Promise<Plugins> {
  const removers: (() => void)[] = [];
  const closers: (() => Promise<void>)[] = [];
  // mail-lua first: push notifications may reuse its Lua state, and its deinit must run after push's.
  const push = wantsPushNotification(ctx);
  // With both, the push driver's own state is created in mail-lua's round trip to the worker.
  if (wantsMailLua(ctx)) {
    removers.push(installMailLua(ctx.mailUsers, () => ctx.luaPool(), undefined, push ? { companion: pushCompanionPlan } : {}));
  }
  if (push) {
    const push = installPushNotification(ctx.mailUsers, () => ctx.luaPool());
    removers.push(push.uninstall);
    closers.push(push.close);
  }
  return {
    drain: async () => {
      for (const c of closers) await c();
    },
    close: async () => {
      for (const c of closers) await c();
      for (const r of removers.reverse()) r();
    },
  };
}
