-- expect: R3
SELECT json_extract(value, '$.patient_id') AS p, COUNT(*) FROM world_state GROUP BY p
