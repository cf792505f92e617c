-- expect: R3
WITH c AS (SELECT patient_id AS person, sex FROM patients)
SELECT person, COUNT(*) FROM c GROUP BY person
