"""SegStudio: a desktop studio for human-in-the-loop semantic segmentation."""

__version__ = "0.1.0"
