-- expect: ok
SELECT COUNT(*) FROM medications WHERE coalesce(end_date, '9999-12-31') >= date('now')
