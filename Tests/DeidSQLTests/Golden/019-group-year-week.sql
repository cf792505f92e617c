-- expect: ok
SELECT strftime('%Y-%W', service_date) AS week, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1
