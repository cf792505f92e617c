-- expect: ok
SELECT class, COUNT(DISTINCT encounter_id) AS visits FROM encounters GROUP BY class
