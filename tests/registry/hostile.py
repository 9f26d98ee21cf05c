"""Hostile spreadsheets made on the spot (none is committed): zip bombs, lying and crowded archives."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from openpyxl import Workbook

from tests.registry.exports import HEADERS

SHEET = "xl/worksheets/sheet1.xml"


def _cell(text: str) -> bytes:
    return f'<c t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def _base_workbook(path: Path, headers) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(list(headers))
    book.save(path)
    return path


def zip_bomb(path: Path, *, expanded_bytes: int, headers=HEADERS, content=("", "某某有限公司")) -> Path:
    """A real xlsx whose one sheet repeats a row until it inflates to ``expanded_bytes``.

    The row has no 统一社会信用代码 (by default), so every one of them is a row error: the file an
    attacker sends to fill the error table. Highly compressible: about 250 times."""
    _base_workbook(path.with_suffix(".base.xlsx"), headers)
    row = b"<row>" + b"".join(_cell(text) for text in content) + b"</row>"
    block = row * max(1, (1 << 20) // len(row))
    with zipfile.ZipFile(path.with_suffix(".base.xlsx")) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != SHEET:
                target.writestr(info, data)
                continue
            head, _, rest = data.decode().partition("<sheetData>")
            _, _, tail = rest.partition("</sheetData>")
            with target.open(SHEET, "w", force_zip64=True) as member:
                member.write((head + "<sheetData><row>").encode() + b"".join(_cell(h) for h in headers) + b"</row>")
                written = 0
                while written < expanded_bytes:
                    member.write(block)
                    written += len(block)
                member.write(("</sheetData>" + tail).encode())
    path.with_suffix(".base.xlsx").unlink()
    return path


def crowded_archive(path: Path, members: int) -> Path:
    """A valid xlsx with thousands of tiny extra members (each costs the reader a directory entry)."""
    _base_workbook(path, HEADERS)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        for index in range(members):
            archive.writestr(f"customXml/item{index}.xml", b"<a/>")
    return path


def lying_archive(path: Path, *, real_rows: int = 100_000, declared: int = 4000) -> Path:
    """An xlsx whose sheet declares ``declared`` inflated bytes but inflates to far more: the sizes
    in its local header and central directory (and the CRC, of the declared part) are rewritten."""
    _base_workbook(path.with_suffix(".base.xlsx"), HEADERS)
    with zipfile.ZipFile(path.with_suffix(".base.xlsx")) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == SHEET:
                head, _, rest = data.decode().partition("<sheetData>")
                _, _, tail = rest.partition("</sheetData>")
                data = ((head + "<sheetData><row>").encode() + b"".join(_cell(h) for h in HEADERS) + b"</row>"
                        + (b"<row>" + _cell("") + _cell("某某有限公司") + b"</row>") * real_rows
                        + ("</sheetData>" + tail).encode())
                real = data
            target.writestr(info.filename, data)
    path.with_suffix(".base.xlsx").unlink()
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo(SHEET).header_offset
    crc = zlib.crc32(real[:declared])
    struct.pack_into("<I", raw, offset + 14, crc)  # local header: CRC-32, then sizes
    struct.pack_into("<I", raw, offset + 22, declared)
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", raw, at + 28)[0]
        if bytes(raw[at + 46:at + 46 + name_length]) == SHEET.encode():
            struct.pack_into("<I", raw, at + 16, crc)
            struct.pack_into("<I", raw, at + 24, declared)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))
    return path
