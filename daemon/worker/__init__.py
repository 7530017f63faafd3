"""The DB-polling image worker (``worker``) and its processors (``processors``)."""
