"""Storage: the database (SQLite or PostgreSQL), its migrations, encryption at rest, and the repositories.

Nothing outside this package opens a session or writes SQL.
"""
