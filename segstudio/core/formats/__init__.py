"""Dataset exchange: export a project to, and import it from, standard segmentation formats.

The registry (`FORMATS`) maps a format name to its exporter (a writer class) and importer (a
reader class); `export_dataset` and `import_dataset` are the generators that drive them.
"""

from segstudio.core.formats.base import FileProblem
from segstudio.core.formats.export import ExportOptions, ExportReport, export_dataset
from segstudio.core.formats.importing import (
    ImportReport, MappingRow, import_dataset, mapping_table, parse_mapping, preview_import,
)
from segstudio.core.formats.registry import FORMATS, FormatSpec, get_format, parse_formats

__all__ = [
    "FORMATS", "ExportOptions", "ExportReport", "FileProblem", "FormatSpec", "ImportReport", "MappingRow", "export_dataset",
    "get_format", "import_dataset", "mapping_table", "parse_formats", "parse_mapping", "preview_import",
]
