-- expect: R6
SELECT COUNT(*) FROM encounters WHERE service_date > date('now', 'localtime')
