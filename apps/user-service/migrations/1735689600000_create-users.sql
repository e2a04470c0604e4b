-- Up Migration

-- The user aggregate (seed 002's users table). E-mail addresses are stored normalized (trimmed,
-- lower-case) by the Email value object, so the plain unique constraint makes them unique
-- case-insensitively; the CHECK keeps any other writer honest. `version` is the optimistic
-- concurrency token: every write bumps it and checks the value it read.
CREATE TABLE users (
  id uuid PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL,
  status text NOT NULL,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT users_email_key UNIQUE (email),
  CONSTRAINT users_email_normalized CHECK (email = lower(btrim(email)) AND char_length(email) BETWEEN 3 AND 254),
  CONSTRAINT users_name_length CHECK (name = btrim(name) AND char_length(name) BETWEEN 1 AND 200),
  CONSTRAINT users_status_check CHECK (status IN ('pending', 'active', 'inactive')),
  CONSTRAINT users_version_positive CHECK (version >= 1)
);

-- GET /users pages through users oldest first.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);

-- Down Migration

DROP TABLE users;
