-- expect: R4
SELECT load_extension('/tmp/evil.so')
