-- expect: ok
SELECT age / 5 * 5 AS band, COUNT(*) FROM patients GROUP BY age / 5 * 5
