-- expect: ok
SELECT strftime('%Y-%m', service_date) AS month, COUNT(*) FROM encounters GROUP BY month
