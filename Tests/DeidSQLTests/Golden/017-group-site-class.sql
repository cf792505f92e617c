-- expect: ok
SELECT site, class, COUNT(*) FROM encounters GROUP BY site, class
