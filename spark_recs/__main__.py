"""``python -m spark_recs``: the same as the ``spark-recs`` command."""

import sys

from spark_recs.cli import main

if __name__ == "__main__":
    sys.exit(main())
