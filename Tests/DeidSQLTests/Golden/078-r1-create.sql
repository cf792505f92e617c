-- expect: R1
CREATE TABLE x(a)
