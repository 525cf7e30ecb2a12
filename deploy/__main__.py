"""`python -m deploy plan|apply|destroy --env kind|gke`: see deploy/cli.py."""

import sys

from deploy.cli import main

sys.exit(main())
