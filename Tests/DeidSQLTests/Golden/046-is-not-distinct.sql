-- expect: ok
SELECT COUNT(*) FROM medications WHERE end_date IS NOT DISTINCT FROM start_date
