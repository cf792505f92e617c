-- expect: ok
WITH cohort AS (
  SELECT DISTINCT c.patient_id FROM conditions c WHERE c.code IN VALUESET('diabetes')
)
SELECT p.sex, p.birth_year, COUNT(*) AS n
FROM cohort JOIN patients p ON p.patient_id = cohort.patient_id
GROUP BY p.sex, p.birth_year
ORDER BY n DESC
LIMIT 20
