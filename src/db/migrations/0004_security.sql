-- v4: secrets (values encrypted with AES-GCM under <data-dir>/secrets.key; the name is the
-- additional data, so a row copied to another name does not decrypt) and the audit log of who did what.
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  iv TEXT NOT NULL,
  ciphertext TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  token_id TEXT,
  token_name TEXT,
  role TEXT,
  action TEXT NOT NULL,
  target TEXT,
  details TEXT
);
