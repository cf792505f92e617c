-- expect: R2
SELECT COUNT(*) FROM patients GROUP BY (SELECT 1)
