-- expect: R4
-- json_object is in the sandbox's allow-list for the derived world_state view, never a query's
SELECT json_object('p', patient_id) AS p, COUNT(*) FROM patients GROUP BY p
