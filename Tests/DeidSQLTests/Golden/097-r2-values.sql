-- expect: R2
VALUES (1, 2)
