"""Storage: SQLModel tables, the engine (SQLite or PostgreSQL) and Alembic migrations."""
