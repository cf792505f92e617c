-- expect: R3
SELECT json_extract(value, '$.age') AS age, COUNT(*) FROM world_state GROUP BY age
