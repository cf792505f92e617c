-- expect: R3
SELECT encounter_id, COUNT(*) FROM conditions GROUP BY encounter_id
