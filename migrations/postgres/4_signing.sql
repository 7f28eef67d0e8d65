-- Signing keys and signed audit checkpoints (PostgreSQL). Keep in step with migrations/sqlite/4_signing.sql.

-- Ed25519 signing keys. The highest generation is the current key; older
-- ones stay published so that what they signed still verifies. The unique
-- generation is what lets only one of several instances starting (or
-- rotating) at once create the next key.
CREATE TABLE signing_keys (
    kid              TEXT PRIMARY KEY,
    generation       BIGINT NOT NULL UNIQUE,
    public_key       BYTEA NOT NULL,
    -- XChaCha20-Poly1305 of the 32-byte secret key under the key-encryption
    -- key named by kek_id, with a random nonce and the kid as associated data.
    private_key_enc  BYTEA NOT NULL,
    nonce            BYTEA NOT NULL,
    kek_id           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

-- Signed statements that a chain had `hash` at `seq`: `jws` signs
-- {"chain","seq","hash","time"} with the key `kid`.
CREATE TABLE audit_checkpoints (
    chain       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    hash        BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    kid         TEXT NOT NULL REFERENCES signing_keys(kid),
    jws         TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
