-- expect: R1
SELECT COUNT(*) FROM patients INDEXED BY idx
