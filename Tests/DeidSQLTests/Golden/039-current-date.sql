-- expect: ok
SELECT COUNT(*) FROM encounters WHERE service_date = CURRENT_DATE
