-- expect: ok
SELECT system, code, COUNT(DISTINCT patient_id) AS patients FROM conditions GROUP BY system, code
