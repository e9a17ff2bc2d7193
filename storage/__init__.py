"""Storage: typed SQLAlchemy models, the engine and unit of work, query functions, migrations.

The only package that writes SQL. It knows nothing about chat platforms, files or messages.
"""
