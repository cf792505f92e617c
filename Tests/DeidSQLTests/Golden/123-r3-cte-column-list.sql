-- expect: R3
WITH c(anon, s) AS (SELECT patient_id, sex FROM patients)
SELECT anon, COUNT(*) FROM c GROUP BY anon
