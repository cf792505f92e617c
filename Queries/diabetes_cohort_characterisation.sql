-- name: diabetes-cohort-characterisation
-- purpose: Characterise the diabetes cohort: sex and birth decade, with how many are also
--          hypertensive and the mean number of encounters in the last year.
-- parameters: none
-- value sets: diabetes, hypertension
WITH cohort AS (
  SELECT DISTINCT c.patient_id FROM conditions c WHERE c.code IN VALUESET('diabetes')
),
visits AS (
  SELECT e.patient_id, COUNT(*) AS n FROM encounters e
  WHERE e.service_date >= date('now', '-1 year')
  GROUP BY e.patient_id
)
SELECT p.sex,
       p.birth_year / 10 * 10 AS birth_decade,
       COUNT(DISTINCT p.patient_id) AS patients,
       COUNT(DISTINCT h.patient_id) AS also_hypertensive,
       AVG(coalesce(v.n, 0)) AS mean_visits_last_year
FROM cohort
JOIN patients p ON p.patient_id = cohort.patient_id
LEFT JOIN conditions h ON h.patient_id = p.patient_id AND h.code IN VALUESET('hypertension')
LEFT JOIN visits v ON v.patient_id = p.patient_id
GROUP BY p.sex, birth_decade
ORDER BY p.sex, birth_decade
