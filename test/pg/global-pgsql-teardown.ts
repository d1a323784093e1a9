// Jest globalTeardown of the `pgsql` project: stops the server global-pgsql.ts started.
import type { PgServer } from './harness.js';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { roostTestPg?: PgServer }).roostTestPg?.destroy();
}
