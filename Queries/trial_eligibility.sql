-- name: trial-eligibility
-- purpose: Pharma sponsor's trial recruitment: patients aged :min_age–:max_age with hypertension who are
--          not currently on a beta blocker, counted per site, age band and sex. Consent to the trial is
--          not written here: the policy's consent requirement makes each member read only consented
--          patients.
-- parameters: :min_age int (45), :max_age int (75)
-- value sets: hypertension, beta-blockers
SELECT e.site,
       CASE WHEN p.age < 55 THEN '45-54' WHEN p.age < 65 THEN '55-64' ELSE '65-75' END AS age_band,
       p.sex,
       COUNT(DISTINCT p.patient_id) AS eligible
FROM patients p
JOIN encounters e ON e.patient_id = p.patient_id
WHERE p.age BETWEEN :min_age AND :max_age
  AND p.deceased = 0
  AND EXISTS (SELECT 1 FROM conditions c
              WHERE c.patient_id = p.patient_id AND c.code IN VALUESET('hypertension'))
  AND NOT EXISTS (SELECT 1 FROM medications m
                  WHERE m.patient_id = p.patient_id AND m.code IN VALUESET('beta-blockers')
                    AND (m.end_date IS NULL OR m.end_date >= date('now')))
GROUP BY e.site, age_band, p.sex
ORDER BY e.site, age_band, p.sex
