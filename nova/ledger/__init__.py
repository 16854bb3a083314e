"""Nova's durable ledgers: routing decisions and failures, on SQLAlchemy Core."""
