-- expect: R3
-- allow: min-max
SELECT class, MAX(encounter_id) FROM encounters GROUP BY class
