-- expect: R1
INSERT INTO patients VALUES ('x')
