-- expect: R6
SELECT COUNT(*) FROM encounters WHERE service_date > datetime('now', 'utc')
