-- expect: R3
SELECT key, COUNT(*) FROM world_state GROUP BY key
