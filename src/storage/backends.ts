// The storage backends this build serves, by `mail_location` scheme. A new backend is a sibling
// folder of sqlite/ and one line here.
import type { StorageBackend } from './backend.js';
import { pgsqlBackend } from './pgsql/backend.js';
import { sqliteBackend } from './sqlite/index.js';

export const BACKENDS: readonly StorageBackend[] = [sqliteBackend, pgsqlBackend];
