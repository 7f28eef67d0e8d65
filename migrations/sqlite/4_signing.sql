-- Signing keys and signed audit checkpoints (SQLite). Keep in step with migrations/postgres/4_signing.sql.

-- Ed25519 signing keys. The highest generation is the current key; older
-- ones stay published so that what they signed still verifies. The unique
-- generation is what lets only one of several instances starting (or
-- rotating) at once create the next key.
CREATE TABLE signing_keys (
    kid              TEXT PRIMARY KEY,
    generation       INTEGER NOT NULL UNIQUE,
    public_key       BLOB NOT NULL,
    -- XChaCha20-Poly1305 of the 32-byte secret key under the key-encryption
    -- key named by kek_id, with a random nonce and the kid as associated data.
    private_key_enc  BLOB NOT NULL,
    nonce            BLOB NOT NULL,
    kek_id           TEXT NOT NULL,
    created_at       TEXT NOT NULL
);

-- Signed statements that a chain had `hash` at `seq`: `jws` signs
-- {"chain","seq","hash","time"} with the key `kid`.
CREATE TABLE audit_checkpoints (
    chain       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    hash        BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    kid         TEXT NOT NULL REFERENCES signing_keys(kid),
    jws         TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
