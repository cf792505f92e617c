-- name: ili-surveillance-world-state
-- purpose: The seed's ILI surveillance query in its original world_state / json_extract form,
--          kept runnable for compatibility.
-- parameters: none
-- value sets: none (matches ICD-10 J11 in the record's diagnosis codes)
SELECT json_extract(value, '$.region') AS region,
       date(json_extract(value, '$.service_date')) AS date,
       COUNT(*) AS ili_cases
FROM world_state
WHERE key LIKE 'record:%:encounter:%'
  AND json_extract(value, '$.diagnosis_codes') LIKE '%J11%'
  AND json_extract(value, '$.service_date') > datetime('now', '-7 days')
GROUP BY region, date
ORDER BY date DESC, ili_cases DESC
