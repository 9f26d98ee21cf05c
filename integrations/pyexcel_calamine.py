"""A pyexcel-io reader plugin backed by python-calamine (Rust) for xlsx, xlsm, xls, xlsb and ods.

pyexcel-xlsx reads through openpyxl, which is an order of magnitude slower on large sheets;
calamine parses the sheet natively and hands rows to Python one list at a time. Importing this
module registers the reader with pyexcel-io's plugin chain (the way pyexcel-xlsx registers
itself, ``IOPluginInfoChainV2``) and moves it ahead of the other readers for those file types,
so ``pyexcel.iget_array`` / ``pyexcel_io.iget_data`` use it by default. pyexcel-xlsx stays
registered: ask for it with ``library="pyexcel-xlsx"`` (``services.registry.excel_io`` falls back to it
when calamine cannot parse a file). Without python-calamine installed nothing is registered
and pyexcel keeps using pyexcel-xlsx.

Cell values are calamine's: str ("" for an empty cell), float (also for whole numbers), bool,
date/datetime/time/timedelta for date-formatted cells. Rows keep their sheet positions: row 1
of the sheet is the first row yielded, and leading empty columns are kept as "".
"""

from __future__ import annotations

from io import BytesIO

from pyexcel_io.plugin_api import IReader, ISheet, NamedContent
from pyexcel_io.plugins import NEW_READERS, IOPluginInfoChainV2

try:
    import python_calamine
except ImportError:  # pragma: no cover - the fallback path when the wheel is missing
    python_calamine = None

FILE_TYPES = ("xlsx", "xlsm", "xls", "xlsb", "ods")
# The name pyexcel-io's ``library=`` matches for this plugin (lml uses the top-level package name).
LIBRARY = __name__.split(".")[0].replace("_", "-")


class CalamineSheet(ISheet):
    # Each native row is already the list of cell values (column_iterator is the identity), so a
    # caller may take rows from row_iterator() as they are.
    rows_are_values = True

    def __init__(self, sheet, **_keywords):
        self._sheet = sheet

    @property
    def last_row_number(self) -> int:
        """The sheet's last used row (1-based; 0 when empty), known without reading the rows."""
        end = self._sheet.end
        return end[0] + 1 if end else 0

    def row_iterator(self):
        start = self._sheet.start
        if start is None:  # an empty sheet
            return
        # iter_rows() starts at sheet row 1 but at the first used column: put the columns back.
        pad = [""] * start[1]
        if pad:
            for row in self._sheet.iter_rows():
                yield pad + row
        else:
            yield from self._sheet.iter_rows()

    def column_iterator(self, row):
        return iter(row)


class CalamineBook(IReader):
    """Opens a workbook from a path, a binary stream or bytes; hidden sheets are skipped."""

    def __init__(self, file_alike_object, file_type, skip_hidden_sheets=True, **_keywords):
        if isinstance(file_alike_object, bytes | bytearray):
            file_alike_object = BytesIO(file_alike_object)
        if isinstance(file_alike_object, str):
            self._book = python_calamine.CalamineWorkbook.from_path(file_alike_object)
        else:
            self._book = python_calamine.CalamineWorkbook.from_filelike(file_alike_object)
        self.content_array = []
        self.last_opened: CalamineSheet | None = None
        for index, meta in enumerate(self._book.sheets_metadata):
            if skip_hidden_sheets and meta.visible != python_calamine.SheetVisibleEnum.Visible:
                continue
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            self.content_array.append(NamedContent(meta.name, index))

    def read_sheet(self, sheet_index):
        self.last_opened = CalamineSheet(self._book.get_sheet_by_index(self.content_array[sheet_index].payload))
        return self.last_opened

    def close(self):
        if self._book is not None:
            self._book.close()
            self._book = None


class CalamineBookInContent(CalamineBook):
    def __init__(self, file_content, file_type, **keywords):
        super().__init__(BytesIO(file_content), file_type, **keywords)


def _register() -> bool:
    if python_calamine is None:
        return False
    (
        IOPluginInfoChainV2(__name__)
        .add_a_reader(
            relative_plugin_class_path="CalamineBook", locations=["file", "memory"], file_types=list(FILE_TYPES),
            stream_type="binary",
        )
        .add_a_reader(
            relative_plugin_class_path="CalamineBookInContent", locations=["content"], file_types=list(FILE_TYPES),
            stream_type="binary",
        )
    )
    # lml hands out the first reader registered for a type; pyexcel-xlsx registered itself when
    # pyexcel_io was imported, so put calamine first (the others stay as explicit fallbacks).
    for key, infos in NEW_READERS.registry.items():
        if key.split("-", 1)[-1] in FILE_TYPES:
            infos.sort(key=lambda info: not (info.absolute_import_path or "").startswith(__name__ + "."))
    return True


REGISTERED = _register()
