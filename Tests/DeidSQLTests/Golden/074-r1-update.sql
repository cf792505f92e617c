-- expect: R1
UPDATE patients SET age = 1
