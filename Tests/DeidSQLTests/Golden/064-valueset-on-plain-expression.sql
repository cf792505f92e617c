-- expect: ok
SELECT COUNT(*) FROM medications WHERE upper(code) IN VALUESET('beta-blockers')
