-- expect: syntax
SELECT COUNT(*) FROM
