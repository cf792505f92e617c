-- expect: ok
SELECT COUNT(*) FROM encounters WHERE service_date < date()
