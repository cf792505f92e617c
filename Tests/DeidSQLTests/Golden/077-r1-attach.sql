-- expect: R1
ATTACH DATABASE '/etc/passwd' AS x
