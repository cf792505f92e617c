-- expect: ok
SELECT class, COUNT(service_date) FROM encounters GROUP BY class
