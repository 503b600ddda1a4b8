"""`python -m engine ...`: the Glyphs command line."""

from .cli import main

raise SystemExit(main())
