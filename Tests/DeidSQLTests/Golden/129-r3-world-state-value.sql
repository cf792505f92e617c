-- expect: R3
SELECT value, COUNT(*) FROM world_state GROUP BY value
