-- Up Migration

-- Raised by a saga transition that finds the instance no longer at the version it read (another
-- transition got there first). The statement fails instead of updating nothing, so the
-- transition can go out without waiting for its answer and share a round trip with COMMIT: the
-- failed transaction's COMMIT rolls back. SQLSTATE 40001 (serialization_failure), naming table
-- saga_instances and column version, which is how the orchestrator tells it apart.
CREATE FUNCTION saga_version_conflict(saga uuid, expected integer) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'saga % is no longer at version %', saga, expected
    USING ERRCODE = 'serialization_failure', TABLE = 'saga_instances', COLUMN = 'version';
END
$$;

-- Down Migration

DROP FUNCTION saga_version_conflict(uuid, integer);
