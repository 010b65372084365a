-- {{name}}: apply ({{version}})
-- Runs in one transaction with its bookkeeping row unless migration.yaml
-- says transaction: false.

