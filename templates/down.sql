-- {{name}}: roll back ({{version}})
-- Undo exactly what up.sql did. If that cannot be done, delete this file
-- and set irreversible: true in migration.yaml.

