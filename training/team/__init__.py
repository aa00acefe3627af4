"""Team mode: one MLflow tracking server on PostgreSQL with basic-auth roles (``crmlab server``, ``crmlab users``)."""
