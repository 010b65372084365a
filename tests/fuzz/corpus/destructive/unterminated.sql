SELECT 'unterminated
/* open comment
DROP TABLE [t
