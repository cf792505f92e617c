-- expect: ok
WITH a AS (SELECT patient_id, sex FROM patients WHERE age >= 18),
     b AS (SELECT a.patient_id, a.sex FROM a JOIN encounters e ON e.patient_id = a.patient_id WHERE e.class = 'emergency')
SELECT sex, COUNT(DISTINCT patient_id) AS ed_adults FROM b GROUP BY sex
