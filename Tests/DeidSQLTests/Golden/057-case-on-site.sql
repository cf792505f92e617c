-- expect: ok
SELECT CASE site WHEN 'general-hospital' THEN 'GH' ELSE 'other' END AS s, COUNT(*) FROM encounters GROUP BY s
