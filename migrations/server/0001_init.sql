-- Server database (<data_dir>/roost.db): accounts. Password hashes are Dovecot `{SCHEME}...`
-- strings produced by src/auth; this database never sees a plaintext password.
CREATE TABLE users (
  id         INTEGER PRIMARY KEY,
  -- Unique exactly as given (auth_username_format decides case folding before lookup).
  username   TEXT NOT NULL UNIQUE,
  password   TEXT,
  uid        INTEGER,
  gid        INTEGER,
  home       TEXT,
  quota_rule TEXT,
  created_at INTEGER NOT NULL
);

-- Extra userdb fields (Dovecot userdb extra fields, e.g. `mail_plugins`, `namespace/inbox/...`).
CREATE TABLE user_fields (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
