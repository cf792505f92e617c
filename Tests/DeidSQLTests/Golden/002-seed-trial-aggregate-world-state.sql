-- expect: ok
-- The seed's trial query in aggregate form: eligible patients, by sex
SELECT json_extract(s1.value, '$.gender') AS gender, COUNT(DISTINCT s1.patient_id) AS eligible
FROM world_state s1
WHERE s1.key LIKE 'patient:%'
AND CAST(json_extract(s1.value, '$.age') AS INTEGER) BETWEEN 45 AND 75
AND json_extract(s1.value, '$.diagnosis_codes') LIKE '%I10%'
AND json_extract(s1.value, '$.medications') NOT LIKE '%beta_blocker%'
AND json_extract(s1.value, '$.active_consents.pharmacorp-trial-2026.granted') = 'true'
GROUP BY gender
