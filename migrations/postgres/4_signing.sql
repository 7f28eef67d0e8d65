-- Signing keys and signed audit checkpoints (postgres). Filled in by the signing work.
SELECT 1;
