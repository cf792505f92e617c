-- expect: ok
SELECT json_extract(value, '$.service_date') AS day, COUNT(*) FROM world_state
WHERE key LIKE 'record:%:encounter:%' GROUP BY day
