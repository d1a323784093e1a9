// A real store in a temp dir filled with the MIME fixtures, a collecting response sink, and
// command parsing through the real protocol parser.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logHub } from '../../../src/log/logger.js';
import { parseMessage } from '../../../src/mime/parser.js';
import { openSqliteUserStore, type SqliteStorageSettings, type SqliteUserStore } from '../../../src/storage/sqlite/index.js';
import type { AppendInput, MessageMeta } from '../../../src/storage/types.js';
import type { FetchAttribute, SearchKey } from '../../../src/imap/protocol/commands.js';
import type { ResponseSink } from '../../../src/imap/commands/fetch-output.js';
import { cmd } from '../protocol/helpers.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'mime');

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, `${name}.eml`));
}

export interface TestMailbox {
  store: SqliteUserStore;
  mailboxId: number;
  messages(): { seq: number; meta: MessageMeta }[];
  append(content: Buffer, extra?: Omit<AppendInput, 'content'>): void;
  cleanup(): void;
}

export function testMailbox(settings?: Partial<SqliteStorageSettings>): TestMailbox {
  logHub.setDefaultOutput(false);
  const dir = mkdtempSync(join(tmpdir(), 'roost-engine-'));
  const store = openSqliteUserStore({ username: 'u', home: dir, dbPath: join(dir, 'mail.db'), separator: '/', settings: { durability: 'normal', ...settings } });
  const mailboxId = store.getMailbox('INBOX')!.id;
  return {
    store,
    mailboxId,
    messages: () => store.listMessages(mailboxId).map((meta, i) => ({ seq: i + 1, meta })),
    append(content, extra = {}) {
      store.append('INBOX', { content, mimeStructure: parseMessage(content), ...extra });
    },
    cleanup() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Collects everything written; with `fullEvery` it reports "full" on every n-th write. */
export class CollectingSink implements ResponseSink {
  readonly chunks: Buffer[] = [];
  drains = 0;
  private writes = 0;
  constructor(private readonly fullEvery = 0) {}
  write(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    this.writes++;
    return this.fullEvery === 0 || this.writes % this.fullEvery !== 0;
  }
  async waitForDrain(): Promise<void> {
    this.drains++;
    await new Promise((r) => setImmediate(r));
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get text(): string {
    return this.bytes.toString('latin1');
  }
}

export function fetchAttributes(items: string): FetchAttribute[] {
  const c = cmd(`a FETCH 1 ${items}\r\n`);
  if (c.name !== 'FETCH') throw new Error('not a FETCH');
  return c.attributes;
}

export function searchKey(criteria: string): SearchKey {
  const c = cmd(`a SEARCH ${criteria}\r\n`);
  if (c.name !== 'SEARCH') throw new Error('not a SEARCH');
  return c.criteria;
}
