-- expect: R4
SELECT RAISE(ABORT, 'x')
