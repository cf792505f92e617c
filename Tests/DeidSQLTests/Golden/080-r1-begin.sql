-- expect: R1
BEGIN
