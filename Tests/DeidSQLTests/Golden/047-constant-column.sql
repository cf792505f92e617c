-- expect: ok
SELECT 'all sites' AS scope, COUNT(*) AS n FROM patients
