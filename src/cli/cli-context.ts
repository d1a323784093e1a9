// What every CLI verb gets: the loaded configuration, an output sink, and a lazily built server
// context (so `roost version` or `roost pw` never open a database).
import type { Readable } from 'node:stream';
import type { Settings } from '../config/index.js';
import { checkSettings } from './config-check.js';
import { loadSettings } from './overrides.js';
import { createServerContext, type CreatedContext, type ServerContextOptions } from './context.js';
import { installPlugins, type Plugins } from './plugins.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Standard input (the message for `deliver`). */
  stdin(): Readable;
  /** Asks for a secret on the terminal; null when there is no terminal. */
  promptSecret(question: string): Promise<string | null>;
}

export class CliEnv {
  private ctx: CreatedContext | null = null;
  private plugins: Plugins | null = null;
  private loaded: { settings: Settings; warnings: string[] } | null = null;
  /** Passed to the context when it is built (`serve` shares one server database across reloads). */
  contextOptions: ServerContextOptions = {};

  constructor(
    readonly configPath: string | null,
    readonly overrides: string[],
    readonly io: CliIo,
  ) {}

  get settings(): Settings {
    if (!this.loaded) {
      const loaded = loadSettings(this.configPath, this.overrides);
      checkSettings(loaded.settings, this.configPath);
      this.loaded = loaded;
    }
    return this.loaded.settings;
  }

  get warnings(): string[] {
    void this.settings;
    return this.loaded!.warnings;
  }

  context(): CreatedContext {
    if (!this.ctx) this.ctx = createServerContext(this.settings, this.contextOptions);
    return this.ctx;
  }

  /** The context with mail plugins (mail-lua) attached, for verbs that act as a mail user. */
  async mailContext(): Promise<CreatedContext> {
    const ctx = this.context();
    if (!this.plugins) this.plugins = await installPlugins(ctx);
    return ctx;
  }

  async close(): Promise<void> {
    // Users end first (their deinit hooks still run), then the plugins drain and detach, then the
    // context closes the Lua pool and the databases.
    if (this.ctx) await this.ctx.mailUsers.shutdown();
    if (this.plugins) await this.plugins.close();
    this.plugins = null;
    if (this.ctx) await this.ctx.close();
    this.ctx = null;
  }
}
