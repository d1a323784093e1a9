// The push driver's header fields of a delivered message come from the message in memory
// (savedMessageFields) instead of being read back from the store (messageFields): both must give
// the same fields, for every message of the MIME fixtures.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import { parseMessage } from '../../src/mime/parser.js';
import { messageFields, savedMessageFields } from '../../src/lua/push-notification/message-fields.js';
import { tempStores } from '../storage/helpers/temp-store.js';

const dir = new URL('../fixtures/mime/', import.meta.url).pathname;
const messages = readdirSync(dir).filter((f) => f.endsWith('.eml'));

test.each(messages)('%s: the fields from memory are the fields read back from the store', async (name) => {
  const t = tempStores();
  try {
    const store = t.open();
    const content = readFileSync(join(dir, name));
    const mimeStructure = parseMessage(content);
    const { bodyId } = store.append('INBOX', { content, mimeStructure });
    const fromStore = await messageFields(store, bodyId);
    expect(fromStore.date).not.toBe(-1); // read, not the fields of a body that is gone
    expect(savedMessageFields({ content, mimeStructure })).toEqual(fromStore);
  } finally {
    t.cleanup();
  }
});
