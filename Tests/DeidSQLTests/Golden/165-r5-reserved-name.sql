-- expect: R5
SELECT COUNT(*) FROM encounters WHERE service_date < :tally_now
