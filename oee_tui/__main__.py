"""`python -m oee_tui` runs the `oee` command."""

from oee_tui.cli import main

raise SystemExit(main())
