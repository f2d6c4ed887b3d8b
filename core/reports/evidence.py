"""Evidence files a reporter attaches: checked by content, stripped of metadata, named safely.

A photo can give away where and when it was taken and on which phone; a document can carry its
author's name. `clean_evidence` returns a copy that keeps what the file shows and drops what it
says about the person who made it, or refuses the file with an `EvidenceError` whose `code` is
stable and whose `message` is written for the reporter.

What is accepted is decided from the bytes (magic numbers), never from the name or the type the
browser claims; a name whose extension contradicts the content is refused. Audio and video are
not accepted: no well-kept pure-Python library removes every place their containers keep
metadata (an MP4's creation time and GPS box, a WAV's LIST chunk), so they could not be cleaned
reliably.
"""

import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import pillow_heif
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from PIL import Image, ImageCms, ImageOps

# pypdf (with the font tools it brings, some 25 MiB) is imported with the first PDF cleaned
if TYPE_CHECKING:
    from pypdf.generic import DictionaryObject, StreamObject

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
# Pixels decoded per picture. A 48-megapixel phone photo fits; a few megabytes of compressed
# data claiming gigapixels (a decompression bomb) does not, and is refused before decoding.
MAX_IMAGE_PIXELS = 50_000_000

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
PDF = "application/pdf"
TEXT = "text/plain"

#: Media type of each kind of file a reporter may upload, with the extensions its name may
#: end with (the first is the one given to a name that has none).
ALLOWED_TYPES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"),
        PNG: (".png",),
        WEBP: (".webp",),
        HEIC: (".heic", ".heif"),
        PDF: (".pdf",),
        TEXT: (".txt",),
    }
)

EvidenceErrorCode = Literal[
    "too_large", "too_many_files", "unsupported_type", "type_mismatch", "unreadable"
]

_EXTENSION_TYPES = {ext: media for media, exts in ALLOWED_TYPES.items() for ext in exts}
_MEBIBYTE = 1024 * 1024
# Measured in UTF-8 bytes so that name plus extension stays far below the 255 bytes that
# file systems allow, whatever the script it is written in.
_MAX_STEM_BYTES = 100
_DEFAULT_STEM = "evidence"
_UNSAFE_NAME_CHARACTERS = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
# Tab, line feed, carriage return and form feed are what plain text is made of; any other
# control character means a binary file or a text encoding other than UTF-8 (UTF-16, say).
_NON_TEXT_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})
_PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
# Dictionary keys that describe a PDF's making rather than its content: XMP packets (on the
# catalogue, pages, images, fonts), applications' private data, page modification dates.
_PDF_METADATA_KEYS = ("/Metadata", "/PieceInfo", "/LastModified")
# Active content and attached files: scripts would run when staff open the file, and an
# attached file keeps its own metadata (a photo's GPS). Both go; the pages stay.
_PDF_ACTIVE_KEYS = ("/OpenAction", "/AA", "/JavaScript", "/JS", "/EmbeddedFiles", "/EF")
# Markup annotations (comments, highlights...) carry their author's name in /T. Form fields
# use /T for the field's name, which is content, so only these subtypes lose it.
_PDF_MARKUP_ANNOTATIONS = frozenset(
    {
        "/Text",
        "/FreeText",
        "/Line",
        "/Square",
        "/Circle",
        "/Polygon",
        "/PolyLine",
        "/Highlight",
        "/Underline",
        "/Squiggly",
        "/StrikeOut",
        "/Stamp",
        "/Caret",
        "/Ink",
        "/FileAttachment",
        "/Sound",
        "/Redact",
    }
)


class EvidenceError(ValueError):
    """Why a file cannot be attached: a stable `code` for programs, a `message` for the reporter.

    `message` is a lazy translatable string; it renders in the reporter's language when turned
    into text within a request.
    """

    def __init__(self, code: EvidenceErrorCode, message: LazyString | str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CleanFile:
    """A file ready to be encrypted and stored: metadata removed, name harmless."""

    safe_name: str
    media_type: str
    data: bytes = field(repr=False)
    size: int


def check_file_count(count: int, *, max_files: int = MAX_FILES) -> None:
    """Refuse a submission that attaches more than `max_files` files."""
    if count > max_files:
        raise EvidenceError(
            "too_many_files",
            _l(
                "You have chosen too many files. You can send %(count)s at a time.", count=max_files
            ),
        )


def clean_evidence(
    filename: str,
    data: bytes,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> CleanFile:
    """Return a metadata-free copy of an uploaded file, or raise `EvidenceError`.

    Pictures are re-encoded from their pixels alone, turned upright and converted to sRGB (HEIC
    becomes JPEG, which every browser shows); PDFs lose their document information, XMP packets
    and the EXIF of the photos inside them; text is checked as UTF-8 and its newlines unified.
    Whatever is wrong with the file, no other exception escapes.
    """
    if len(data) > max_bytes:
        raise EvidenceError(
            "too_large",
            _l(
                "This file is too large. Each file can be up to %(megabytes)s MB.",
                megabytes=_megabytes(max_bytes),
            ),
        )
    if not data:
        raise EvidenceError("unreadable", _l("This file is empty. Please choose another file."))
    stem, extension = _split_name(filename)
    media_type = _sniff(data)
    claimed = _EXTENSION_TYPES.get(extension) if extension else None
    if media_type is None:
        if claimed == TEXT:
            raise _not_utf8_text()
        raise _unsupported()
    if extension and claimed is None and media_type == TEXT:
        # Text has no magic number: HTML, SVG or a script is text too, so only the name tells
        # them apart, and none of them is accepted.
        raise _unsupported()
    if extension and claimed != media_type:
        raise EvidenceError(
            "type_mismatch",
            _l(
                "This file's name does not match what it contains. "
                "Please check that you chose the right file."
            ),
        )
    if media_type == TEXT:
        cleaned, output_type = _clean_text(data), TEXT
    elif media_type == PDF:
        cleaned, output_type = _clean_pdf(data), PDF
    else:
        cleaned, output_type = _clean_picture(data, media_type, max_pixels)
    if output_type != media_type or extension not in ALLOWED_TYPES[output_type]:
        extension = ALLOWED_TYPES[output_type][0]
    return CleanFile(
        safe_name=stem + extension, media_type=output_type, data=cleaned, size=len(cleaned)
    )


# Names


def _split_name(filename: str) -> tuple[str, str]:
    """The harmless stem of an uploaded file's name and its lower-case extension ('' if none)."""
    base = re.split(r"[/\\]", filename or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(_name_character(c) for c in base)
    base = _UNSAFE_NAME_CHARACTERS.sub("_", base)
    base = " ".join(base.split()).strip(" .")
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    stem = stem.strip(" .")
    extension = "." + extension.lower() if extension else ""
    if len(extension) > 10 or not extension[1:].isalnum():
        # Not an extension but the end of a name such as "report v2.final draft".
        stem, extension = base, ""
    stem = stem.encode()[:_MAX_STEM_BYTES].decode(errors="ignore").strip(" .")
    if stem.split(".")[0].upper() in _WINDOWS_DEVICE_NAMES:
        stem = f"{_DEFAULT_STEM}-{stem}"
    return stem or _DEFAULT_STEM, extension


def _name_character(character: str) -> str:
    # Control and format characters (among them the right-to-left override that makes
    # "photo\u202egpj.exe" look like "photoexe.jpg") have no place in a name; unusual spaces
    # become plain ones.
    category = unicodedata.category(character)
    if category.startswith("C") or category in ("Zl", "Zp"):
        return ""
    return " " if category == "Zs" else character


# Detection


def _sniff(data: bytes) -> str | None:
    """The accepted media type the bytes themselves show, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if _is_heic(data):
        return HEIC
    if data.startswith(b"%PDF-"):
        return PDF
    if _decode_text(data) is not None:
        return TEXT
    # PDF readers accept a header anywhere in the first kilobyte, after some junk; a text
    # that merely quotes one was recognised above.
    if b"%PDF-" in data[:1024]:
        return PDF
    return None


def _is_heic(data: bytes) -> bool:
    if data[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(data[:4], "big")
    major = data[8:12]
    if major in _HEIC_BRANDS:
        return True
    if major not in _HEIF_GENERIC_BRANDS or not 16 <= box_size <= min(len(data), 4096):
        return False
    compatible = data[16:box_size]
    return any(compatible[i : i + 4] in _HEIC_BRANDS for i in range(0, len(compatible) - 3, 4))


def _decode_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if _NON_TEXT_CHARACTERS.search(text):
        return None
    return text


# Cleaning


def _clean_text(data: bytes) -> bytes:
    text = _decode_text(data)
    if text is None:
        raise _not_utf8_text()
    return text.replace("\r\n", "\n").replace("\r", "\n").encode()


def _clean_picture(data: bytes, media_type: str, max_pixels: int) -> tuple[bytes, str]:
    """Re-encode a picture from its pixels: upright, in sRGB, with nothing else kept."""
    try:
        if media_type == HEIC:
            picture, output_type = _open_heic(data, max_pixels), JPEG
        else:
            picture, output_type = _open_with_pillow(data, media_type, max_pixels), media_type
        picture = _upright(picture)
        picture = _in_srgb(picture)
        return _encode_pixels(picture, output_type), output_type
    except EvidenceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_many_pixels() from error
    except Exception as error:
        raise _unreadable() from error


def _open_with_pillow(data: bytes, media_type: str, max_pixels: int) -> Image.Image:
    # Only the decoder the content was recognised as may read it.
    picture = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[media_type]])
    width, height = picture.size
    if width * height > max_pixels:
        raise _too_many_pixels()
    # An MPO (a JPEG with a depth map or a second view) shows its first picture; an animation
    # cannot be told from its frames and is refused rather than cut down to one.
    if picture.format != "MPO" and getattr(picture, "is_animated", False):
        raise EvidenceError(
            "unsupported_type",
            _l(
                "Animated pictures cannot be added. "
                "Please send a still picture or a screenshot instead."
            ),
        )
    picture.load()
    return picture


def _open_heic(data: bytes, max_pixels: int) -> Image.Image:
    # Read through pillow-heif directly rather than registering it with Pillow, which would
    # change Pillow for the whole process. libheif applies the container's rotation itself.
    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    width, height = heif.size
    if width * height > max_pixels:
        raise _too_many_pixels()
    return heif.to_pillow()


def _upright(picture: Image.Image) -> Image.Image:
    """The picture turned as its EXIF orientation says it should be seen."""
    try:
        return ImageOps.exif_transpose(picture)
    except Exception:
        # A damaged EXIF block cannot say how to turn the picture; it is dropped anyway.
        return picture


def _in_srgb(picture: Image.Image) -> Image.Image:
    """The picture's colours converted from its embedded ICC profile to sRGB.

    The profile itself is not kept (it can name the device or carry comments), so its effect
    is applied to the pixels instead, and a wide-gamut phone photo keeps its colours.
    """
    profile = picture.info.get("icc_profile")
    if not profile or picture.mode not in ("RGB", "RGBA", "CMYK"):
        return picture
    try:
        return ImageCms.profileToProfile(
            picture,
            ImageCms.ImageCmsProfile(io.BytesIO(profile)),
            _srgb_profile(),
            outputMode="RGBA" if picture.mode == "RGBA" else "RGB",
        )
    except Exception:
        # A broken profile is dropped and the pixels are kept as they are.
        return picture


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _encode_pixels(picture: Image.Image, media_type: str) -> bytes:
    mode = _output_mode(picture, media_type)
    if picture.mode != mode:
        picture = picture.convert(mode)
    # A new image holds the pixels and nothing else: no info dictionary, no cached EXIF, no
    # encoder settings that a save could carry over from the original.
    bare = Image.new(mode, picture.size)
    bare.paste(picture)
    output = io.BytesIO()
    if media_type == JPEG:
        bare.save(output, "JPEG", quality=90, optimize=True)
    elif media_type == PNG:
        bare.save(output, "PNG")
    else:
        bare.save(output, "WEBP", quality=90)
    return output.getvalue()


def _output_mode(picture: Image.Image, media_type: str) -> str:
    mode = picture.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in picture.info
    )
    if media_type == JPEG:
        return "L" if mode in ("1", "L") else "RGB"
    if media_type == PNG and mode in ("1", "L", "LA", "RGB", "RGBA", "I", "I;16"):
        return mode
    return "RGBA" if has_alpha else "RGB"


def _clean_pdf(data: bytes) -> bytes:
    """The PDF rewritten without its document information, XMP, embedded photos' EXIF,
    scripts or attached files."""
    from pypdf import PasswordType, PdfReader, PdfWriter

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise EvidenceError(
                "unreadable",
                _l("This PDF is protected by a password. Please send a copy without a password."),
            )
        if len(reader.pages) == 0:
            raise _unreadable()
        # Metadata is removed from the reader's objects before they are copied: copying from
        # the catalogue then takes only what is still reachable, and leaves behind the XMP
        # packets and the earlier revisions of an incrementally saved file.
        _strip_pdf_objects(reader.root_object)
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None
        output = io.BytesIO()
        writer.write(output)
        return output.getvalue()
    except EvidenceError:
        raise
    except Exception as error:
        raise _unreadable() from error


def _strip_pdf_objects(root: "DictionaryObject") -> None:
    """Remove metadata from every object reachable from the catalogue."""
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        IndirectObject,
        NameObject,
        StreamObject,
    )

    seen: set[tuple[int, int]] = set()
    pending: list = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        if isinstance(item, ArrayObject):
            pending.extend(item)
        elif isinstance(item, DictionaryObject):
            for key in (*_PDF_METADATA_KEYS, *_PDF_ACTIVE_KEYS):
                item.pop(NameObject(key), None)
            if item.get("/Subtype") in _PDF_MARKUP_ANNOTATIONS:
                item.pop(NameObject("/T"), None)
            if isinstance(item, StreamObject) and _is_jpeg_image(item):
                _strip_embedded_jpeg(item)
            pending.extend(item.values())


def _is_jpeg_image(stream: "StreamObject") -> bool:
    from pypdf.generic import ArrayObject

    filters = stream.get("/Filter")
    if isinstance(filters, ArrayObject) and len(filters) == 1:
        filters = filters[0]
    return stream.get("/Subtype") == "/Image" and filters == "/DCTDecode"


def _strip_embedded_jpeg(stream: "StreamObject") -> None:
    from pypdf.generic import StreamObject

    stripped = _without_jpeg_metadata(stream.get_data())
    if stripped is not None:
        # pypdf's EncodedStreamObject only re-encodes Flate streams; a DCT stream is the JPEG
        # file itself, so its bytes are replaced as they are.
        StreamObject.set_data(stream, stripped)


def _without_jpeg_metadata(jpeg: bytes) -> bytes | None:
    """The JPEG without its APPn and comment segments, or None if it cannot be parsed.

    The Adobe segment (APP14) stays: it says how to read the colours. Anything after the end
    of the picture (an MPO's second image, with its own EXIF) goes.
    """
    if not jpeg.startswith(b"\xff\xd8"):
        return None
    kept = [b"\xff\xd8"]
    position = 2
    while position + 4 <= len(jpeg):
        if jpeg[position] != 0xFF:
            return None
        marker = jpeg[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker == 0xDA:
            scans = jpeg[position:]
            end = scans.find(b"\xff\xd9")
            kept.append(scans if end == -1 else scans[: end + 2])
            return b"".join(kept)
        if marker in (0xD8, 0xD9):
            return None
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            kept.append(jpeg[position : position + 2])
            position += 2
            continue
        length = int.from_bytes(jpeg[position + 2 : position + 4], "big")
        if length < 2:
            return None
        if not ((0xE0 <= marker <= 0xEF and marker != 0xEE) or marker == 0xFE):
            kept.append(jpeg[position : position + 2 + length])
        position += 2 + length
    return None


# Messages


def _megabytes(size: int) -> str:
    if size % _MEBIBYTE == 0:
        return str(size // _MEBIBYTE)
    return f"{max(size / _MEBIBYTE, 0.1):.1f}"


def _unsupported() -> EvidenceError:
    return EvidenceError(
        "unsupported_type",
        _l(
            "This kind of file cannot be added. You can send pictures (JPEG, PNG, WebP or HEIC), "
            "PDF documents and text files (.txt)."
        ),
    )


def _not_utf8_text() -> EvidenceError:
    return EvidenceError(
        "unreadable",
        _l(
            "This text file could not be read. "
            "Please save it as UTF-8 text, or copy its words into your report."
        ),
    )


def _unreadable() -> EvidenceError:
    return EvidenceError(
        "unreadable",
        _l("This file could not be opened. It may be damaged: please try another copy."),
    )


def _too_many_pixels() -> EvidenceError:
    return EvidenceError(
        "too_large",
        _l(
            "This picture is too large to be processed. "
            "Please send a smaller version or a screenshot."
        ),
    )
