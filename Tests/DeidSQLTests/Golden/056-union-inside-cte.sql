-- expect: ok
WITH seen AS (SELECT patient_id FROM encounters UNION SELECT patient_id FROM claims)
SELECT COUNT(DISTINCT patient_id) AS patients FROM seen
