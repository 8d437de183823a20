"""SegStudio: a desktop studio for human-in-the-loop semantic segmentation."""

import os

__version__ = "0.1.0"

# Idle OpenMP threads sleep instead of spinning. Set before torch is first imported: spinning
# threads steal the core the GUI thread needs, and on a 2-core machine made an LR-ASPP proposal
# 1.3-2.1 s instead of 0.46 s (measured in one minute, models note). A user's own value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
