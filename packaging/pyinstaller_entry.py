"""Entry point of the PyInstaller bundle: the same `segstudio` command as the wheel's script.

Without arguments it opens the app; `SegStudio demo`, `SegStudio --help` etc. work as usual.
"""

import multiprocessing
import sys

from segstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # DataLoader workers re-run this file in a frozen app
    sys.exit(main())
