#!/usr/bin/env python3
"""Writes the SQLite database bench/kamailio/kamailio.cfg reads (KAM_DB): the `version`
table, `subscriber` with HA1 = MD5(user:domain:password) for each account, and the
presence module's tables, from the schema files Debian's kamailio-sqlite-modules ships
(/usr/share/kamailio/db_sqlite), so no kamdbctl and no network are needed.

    bench/kamailio/make_db.py DB DOMAIN USER:PASSWORD...
"""

import hashlib
import os
import sqlite3
import sys

SCHEMA_DIR = "/usr/share/kamailio/db_sqlite"


def make_db(path, domain, accounts):
    """accounts: iterable of (user, password)."""
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    for name in ("standard", "auth_db", "presence"):
        with open(os.path.join(SCHEMA_DIR, f"{name}-create.sql")) as f:
            db.executescript(f.read())
    db.executemany("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, '', ?, '')",
                   ((u, domain, hashlib.md5(f"{u}:{domain}:{pw}".encode()).hexdigest()) for u, pw in accounts))
    db.commit()
    db.close()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    make_db(sys.argv[1], sys.argv[2], (a.split(":", 1) for a in sys.argv[3:]))
