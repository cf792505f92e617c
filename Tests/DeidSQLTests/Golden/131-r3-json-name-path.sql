-- expect: R3
SELECT json_extract(value, '$.name.family') AS family, COUNT(*) FROM world_state GROUP BY family
