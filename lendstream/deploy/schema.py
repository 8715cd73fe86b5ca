"""The applicants schema as SQL, for the cluster's mysql role (the loader's DDL, one home).

    python -m lendstream.deploy.schema    # prints the statements, each ending in ';'

The mysql role runs them inside the database it creates, before granting the applicant API's
read-only account SELECT on the table (MariaDB refuses a table grant on a missing table).
"""

from __future__ import annotations

import sys

from lendstream.services.applicant_api.schema import create_table_sql


def schema_statements() -> list[str]:
    """The statements that create the applicants table if it is missing (idempotent)."""
    return [create_table_sql() + ";"]


def main() -> int:
    print("\n".join(schema_statements()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
