-- expect: R4
SELECT strftime('%H:%M', service_date) AS t, COUNT(*) FROM encounters GROUP BY t
