-- Large bodies live in files under the user's home (storage setting bodyFileThresholdBytes):
-- `file` names it (`<home>/bodies/<first char>/<file>`); such a row has an empty first_chunk
-- and no body_chunk rows. NULL: the body is in SQLite as before.
ALTER TABLE body ADD COLUMN file TEXT;
