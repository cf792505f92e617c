-- expect: ok
WITH htn(pid) AS (SELECT patient_id FROM conditions WHERE code IN VALUESET('hypertension'))
SELECT COUNT(DISTINCT pid) AS n FROM htn
