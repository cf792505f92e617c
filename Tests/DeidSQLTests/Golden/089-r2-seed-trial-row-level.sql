-- expect: R2
-- The seed's trial query: one row per patient, refused with its aggregate form as a hint
SELECT
s1.key as patient_key,
json_extract(s1.value, '$.age') as age,
json_extract(s1.value, '$.gender') as gender,
json_extract(s1.value, '$.diagnosis_codes') as diagnoses,
json_extract(s1.value, '$.medications') as medications
FROM world_state s1
WHERE s1.key LIKE 'patient:%'
AND CAST(json_extract(s1.value, '$.age') AS INTEGER) BETWEEN 45 AND 75
AND json_extract(s1.value, '$.diagnosis_codes') LIKE '%I10%'
AND json_extract(s1.value, '$.medications') NOT LIKE '%beta_blocker%'
AND json_extract(s1.value, '$.active_consents.pharmacorp-trial-2026.granted') = 'true'
