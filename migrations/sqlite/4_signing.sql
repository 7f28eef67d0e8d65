-- Signing keys and signed audit checkpoints (sqlite). Filled in by the signing work.
SELECT 1;
