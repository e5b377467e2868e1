"""Table definitions (SQLAlchemy Core). All tables hang on one ``metadata``."""

from sqlalchemy import MetaData

metadata = MetaData()
