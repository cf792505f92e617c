-- expect: R4
SELECT strftime(:fmt, service_date) AS t, COUNT(*) FROM encounters GROUP BY t
