-- expect: ok
-- Influenza-like illness surveillance: daily case counts by region (the seed's query)
SELECT
json_extract(value, '$.region') as region,
DATE(json_extract(value, '$.service_date')) as date,
COUNT(*) as ili_cases
FROM world_state
WHERE key LIKE 'record:%:encounter:%'
AND json_extract(value, '$.diagnosis_codes') LIKE '%J11%'
AND json_extract(value, '$.service_date') > datetime('now', '-7 days')
GROUP BY region, date
ORDER BY date DESC, ili_cases DESC;
