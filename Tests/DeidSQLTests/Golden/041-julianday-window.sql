-- expect: ok
SELECT class, COUNT(*) FROM encounters WHERE julianday('now') - julianday(service_date) <= 30 GROUP BY class
