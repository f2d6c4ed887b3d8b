"""Evidence files: accepted by content, returned without metadata, refused with stable codes.

Every file is built here, with the metadata a phone or an office suite would leave in it, and
read back after cleaning with the same libraries to show that the metadata is gone and the
content is not.
"""

import io
import random
import struct
import zlib

import pillow_heif
import pytest
from flask_babel.speaklater import LazyString
from PIL import ExifTags, Image, ImageCms, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import FreeText
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, TextStringObject

from core.reports.evidence import (
    ALLOWED_TYPES,
    MAX_FILE_BYTES,
    MAX_FILES,
    CleanFile,
    EvidenceError,
    check_file_count,
    clean_evidence,
)

AUTHOR = "Ana Dupont"
XMP_PACKET = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
    f"<dc:creator><rdf:Seq><rdf:li>{AUTHOR}</rdf:li></rdf:Seq></dc:creator>"
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
).encode()
RED = (255, 0, 0)
BLUE = (0, 0, 255)


# Building files


def phone_exif(orientation: int = 1) -> Image.Exif:
    """EXIF as a phone writes it: device, date, orientation and a GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone Maker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.Artist] = AUTHOR
    exif[ExifTags.Base.DateTime] = "2024:03:01 22:14:05"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 7.0)
    return exif


def two_colour_picture(mode: str = "RGB") -> Image.Image:
    """40x20 pixels, blue, with a red top-left quarter: its orientation can be seen."""
    picture = Image.new("RGB", (40, 20), BLUE)
    picture.paste(RED, (0, 0, 20, 10))
    return picture.convert(mode)


def embedded_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_from_phone(orientation: int = 6) -> bytes:
    output = io.BytesIO()
    two_colour_picture().save(
        output,
        "JPEG",
        quality=95,
        exif=phone_exif(orientation),
        xmp=XMP_PACKET,
        icc_profile=embedded_profile(),
        comment=f"taken by {AUTHOR}",
    )
    return output.getvalue()


def png_with_text_chunks() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", AUTHOR)
    info.add_text("Comment", "a compressed comment", zip=True)
    info.add_itxt("Description", "une description", lang="fr", tkey="Description")
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode())
    output = io.BytesIO()
    two_colour_picture("RGBA").save(
        output, "PNG", pnginfo=info, exif=phone_exif(), icc_profile=embedded_profile()
    )
    return output.getvalue()


def webp_with_metadata() -> bytes:
    output = io.BytesIO()
    two_colour_picture().save(output, "WEBP", lossless=True, exif=phone_exif(), xmp=XMP_PACKET)
    return output.getvalue()


def heic_from_phone() -> bytes:
    output = io.BytesIO()
    pillow_heif.from_pillow(two_colour_picture()).save(
        output, quality=90, exif=phone_exif(orientation=6).tobytes(), xmp=XMP_PACKET
    )
    return output.getvalue()


def pdf_with_metadata(*, user_password: str | None = None) -> bytes:
    """Two pages (a photo with EXIF, a line of text), document info, XMP, an author's note."""
    scan = io.BytesIO()
    # Pillow's PDF writer hands its keyword arguments to the JPEG encoder: the photo inside
    # the PDF keeps its EXIF, as it does when a phone "prints" a photo to PDF.
    two_colour_picture().save(scan, "PDF", exif=phone_exif())
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scan.getvalue())))
    page = writer.add_blank_page(200, 200)
    page[NameObject("/Resources")] = DictionaryObject(
        {
            NameObject("/Font"): DictionaryObject(
                {
                    NameObject("/F1"): DictionaryObject(
                        {
                            NameObject("/Type"): NameObject("/Font"),
                            NameObject("/Subtype"): NameObject("/Type1"),
                            NameObject("/BaseFont"): NameObject("/Helvetica"),
                        }
                    )
                }
            )
        }
    )
    text = DecodedStreamObject()
    text.set_data(b"BT /F1 12 Tf 20 100 Td (It happened on 3 March) Tj ET")
    page.replace_contents(text)
    page[NameObject("/PieceInfo")] = DictionaryObject(
        {NameObject("/Illustrator"): TextStringObject(f"private data of {AUTHOR}")}
    )
    note = FreeText(text="see the second paragraph", rect=(10, 10, 150, 40))
    note[NameObject("/T")] = TextStringObject(AUTHOR)
    writer.add_annotation(page_number=1, annotation=note)
    writer.add_metadata({"/Author": AUTHOR, "/Title": "What happened", "/Creator": "Office"})
    writer.xmp_metadata = XMP_PACKET
    if user_password is not None:
        writer.encrypt(user_password, owner_password="owner", algorithm="AES-256")
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels: a decompression bomb."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + chunk(b"IEND", b"")
    )


def read_picture(cleaned: CleanFile) -> Image.Image:
    picture = Image.open(io.BytesIO(cleaned.data))
    picture.load()
    return picture


def assert_no_picture_metadata(cleaned: CleanFile) -> None:
    picture = read_picture(cleaned)
    assert dict(picture.getexif()) == {}
    assert picture.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"):
        assert key not in picture.info
    assert getattr(picture, "text", {}) == {}
    assert b"Exif\x00\x00" not in cleaned.data
    assert b"ns.adobe.com/xap" not in cleaned.data
    assert AUTHOR.encode() not in cleaned.data
    assert b"Phone" not in cleaned.data


def assert_refused(code: str, filename: str, data: bytes, **limits) -> EvidenceError:
    with pytest.raises(EvidenceError) as caught:
        clean_evidence(filename, data, **limits)
    assert caught.value.code == code
    assert isinstance(caught.value.message, LazyString)
    assert str(caught.value.message)
    return caught.value


# Pictures


def test_fixtures_really_carry_the_metadata_the_cleaning_must_remove():
    jpeg = Image.open(io.BytesIO(jpeg_from_phone()))
    assert jpeg.getexif()[ExifTags.Base.Orientation] == 6
    assert jpeg.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert {"xmp", "icc_profile", "comment"} <= set(jpeg.info)
    png = Image.open(io.BytesIO(png_with_text_chunks()))
    png.load()
    assert png.text["Author"] == AUTHOR
    assert png.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    webp = Image.open(io.BytesIO(webp_with_metadata()))
    assert webp.getexif().get_ifd(ExifTags.IFD.GPSInfo) and "xmp" in webp.info
    heic = pillow_heif.open_heif(io.BytesIO(heic_from_phone()))
    assert heic.info["exif"] and heic.info["xmp"]
    pdf = PdfReader(io.BytesIO(pdf_with_metadata()))
    assert pdf.metadata["/Author"] == AUTHOR and pdf.xmp_metadata is not None


def test_jpeg_loses_exif_gps_xmp_profile_and_comment_and_is_turned_upright():
    cleaned = clean_evidence("IMG_0042.JPG", jpeg_from_phone(orientation=6))

    assert cleaned.media_type == "image/jpeg"
    assert cleaned.safe_name == "IMG_0042.jpg"
    assert cleaned.size == len(cleaned.data)
    assert_no_picture_metadata(cleaned)
    picture = read_picture(cleaned).convert("RGB")
    # Orientation 6 means "turn a quarter clockwise to view": the 40x20 picture becomes
    # 20x40 and its red top-left quarter ends up top right.
    assert picture.size == (20, 40)
    assert_close(picture.getpixel((15, 5)), RED)
    assert_close(picture.getpixel((5, 5)), BLUE)
    assert_close(picture.getpixel((5, 30)), BLUE)


def test_jpeg_without_orientation_keeps_its_size_and_pixels():
    cleaned = clean_evidence("photo.jpeg", jpeg_from_phone(orientation=1))

    assert cleaned.safe_name == "photo.jpeg"
    picture = read_picture(cleaned).convert("RGB")
    assert picture.size == (40, 20)
    assert_close(picture.getpixel((5, 5)), RED)
    assert_close(picture.getpixel((30, 15)), BLUE)


def test_png_loses_its_text_chunks_exif_and_profile_and_keeps_every_pixel():
    original = png_with_text_chunks()

    cleaned = clean_evidence("capture.png", original)

    assert cleaned.media_type == "image/png"
    assert_no_picture_metadata(cleaned)
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"tIME"):
        assert chunk not in cleaned.data
    picture = read_picture(cleaned)
    assert picture.mode == "RGBA"
    assert picture.tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_webp_loses_exif_and_xmp():
    cleaned = clean_evidence("message.webp", webp_with_metadata())

    assert cleaned.media_type == "image/webp"
    assert_no_picture_metadata(cleaned)
    picture = read_picture(cleaned).convert("RGB")
    assert picture.size == (40, 20)
    assert_close(picture.getpixel((5, 5)), RED)


def test_heic_becomes_an_upright_jpeg_without_metadata():
    cleaned = clean_evidence("IMG_0043.HEIC", heic_from_phone())

    assert cleaned.media_type == "image/jpeg"
    assert cleaned.safe_name == "IMG_0043.jpg"
    assert_no_picture_metadata(cleaned)
    picture = read_picture(cleaned).convert("RGB")
    assert picture.size == (20, 40)
    assert_close(picture.getpixel((15, 5)), RED)
    assert_close(picture.getpixel((5, 30)), BLUE)


def test_a_palette_png_with_transparency_keeps_its_transparency():
    picture = Image.new("P", (8, 8), 1)
    picture.putpalette([0, 0, 0, 255, 0, 0])
    picture.paste(0, (0, 0, 4, 4))
    output = io.BytesIO()
    picture.save(output, "PNG", transparency=0)

    cleaned = read_picture(clean_evidence("sticker.png", output.getvalue()))

    assert cleaned.mode == "RGBA"
    assert cleaned.getpixel((1, 1))[3] == 0
    assert cleaned.getpixel((6, 6)) == (255, 0, 0, 255)


def test_an_animated_picture_is_refused_rather_than_cut_to_one_frame():
    frames = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)]
    output = io.BytesIO()
    frames[0].save(output, "PNG", save_all=True, append_images=frames[1:])

    assert_refused("unsupported_type", "animation.png", output.getvalue())


def assert_close(actual, expected, tolerance=40):
    assert all(abs(a - b) <= tolerance for a, b in zip(actual, expected, strict=True)), actual


# Documents


def test_pdf_loses_document_info_xmp_private_data_and_note_authors_and_keeps_its_pages():
    cleaned = clean_evidence("statement.pdf", pdf_with_metadata())

    assert cleaned.media_type == "application/pdf"
    assert cleaned.safe_name == "statement.pdf"
    reader = PdfReader(io.BytesIO(cleaned.data))
    assert reader.metadata is None
    assert reader.xmp_metadata is None
    assert "/Metadata" not in reader.root_object
    assert AUTHOR.encode() not in cleaned.data
    assert b"ns.adobe.com" not in cleaned.data and b"xpacket" not in cleaned.data
    assert len(reader.pages) == 2
    text_page = reader.pages[1]
    assert "It happened on 3 March" in text_page.extract_text()
    assert "/PieceInfo" not in text_page
    (note,) = (annotation.get_object() for annotation in text_page["/Annots"])
    assert note["/Contents"] == "see the second paragraph"
    assert "/T" not in note


def test_photos_inside_a_pdf_lose_their_exif_and_still_open():
    original = pdf_with_metadata()
    assert b"Exif\x00\x00" in original

    cleaned = clean_evidence("scan.pdf", original)

    assert b"Exif\x00\x00" not in cleaned.data
    (image,) = PdfReader(io.BytesIO(cleaned.data)).pages[0].images
    photo = Image.open(io.BytesIO(image.data))
    assert photo.size == (40, 20)
    assert dict(photo.getexif()) == {}
    assert_close(photo.convert("RGB").getpixel((5, 5)), RED)


def test_earlier_revisions_of_an_incrementally_saved_pdf_are_not_kept():
    first = pdf_with_metadata()
    writer = PdfWriter(io.BytesIO(first), incremental=True)
    writer.add_metadata({"/Author": "someone else"})
    output = io.BytesIO()
    writer.write(output)
    assert AUTHOR.encode() in output.getvalue()

    cleaned = clean_evidence("statement.pdf", output.getvalue())

    assert AUTHOR.encode() not in cleaned.data
    assert b"someone else" not in cleaned.data


def test_a_pdf_protected_only_against_editing_is_opened_and_cleaned():
    cleaned = clean_evidence("statement.pdf", pdf_with_metadata(user_password=""))

    reader = PdfReader(io.BytesIO(cleaned.data))
    assert not reader.is_encrypted
    assert reader.metadata is None and reader.xmp_metadata is None
    assert "It happened on 3 March" in reader.pages[1].extract_text()


def test_a_pdf_that_needs_a_password_is_refused():
    error = assert_refused("unreadable", "locked.pdf", pdf_with_metadata(user_password="secret"))
    assert "password" in str(error.message)


# Text


def test_text_is_kept_as_utf8_with_unix_newlines_and_no_byte_order_mark():
    data = "\ufeffLundi 3 mars\r\nIl m'a suivie.\rÇa a duré\t10 minutes.\n".encode()

    cleaned = clean_evidence("notes.TXT", data)

    assert cleaned.media_type == "text/plain"
    assert cleaned.safe_name == "notes.txt"
    assert cleaned.data.decode() == "Lundi 3 mars\nIl m'a suivie.\nÇa a duré\t10 minutes.\n"


def test_text_with_no_extension_is_named_as_text():
    assert clean_evidence("notes", b"what I remember").safe_name == "notes.txt"


@pytest.mark.parametrize(
    "data",
    [
        "Lundi, il m'a dit « ça reste entre nous »".encode("latin-1"),
        "what I remember".encode("utf-16"),
        "what I remember".encode("utf-16-le"),
        b"what I\x1b[2J remember",
    ],
    ids=["latin-1", "utf-16 with BOM", "utf-16 without BOM", "terminal escape"],
)
def test_a_text_file_that_is_not_clean_utf8_is_refused(data):
    error = assert_refused("unreadable", "notes.txt", data)
    assert "UTF-8" in str(error.message)


# Refusals


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("photo.pdf", jpeg_from_phone),
        ("photo.png", jpeg_from_phone),
        ("photo.exe", jpeg_from_phone),
        ("photo\u202egpj.exe", jpeg_from_phone),
        ("statement.jpg", pdf_with_metadata),
        ("capture.webp", png_with_text_chunks),
        ("notes.pdf", lambda: b"just some words"),
        ("notes.png", lambda: b"just some words"),
        ("IMG_0043.jpg", heic_from_phone),
    ],
)
def test_a_name_whose_extension_lies_about_the_content_is_refused(filename, make):
    assert_refused("type_mismatch", filename, make())


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        ("animation.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        ("animation.jpg", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        ("letter.docx", b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256))),
        ("voice.m4a", b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00"),
        ("video.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"),
        ("photo.avif", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"),
        ("program", b"\x7fELF\x02\x01\x01\x00" + bytes(64)),
    ],
)
def test_content_of_a_kind_not_accepted_is_refused(filename, data):
    assert_refused("unsupported_type", filename, data)


def test_a_file_over_the_size_limit_is_refused_before_anything_is_read():
    error = assert_refused("too_large", "notes.txt", b"a" * (MAX_FILE_BYTES + 1))
    assert "10 MB" in str(error.message)
    error = assert_refused("too_large", "photo.jpg", jpeg_from_phone(), max_bytes=1024)
    assert "0.1 MB" in str(error.message)
    error = assert_refused("too_large", "notes.txt", b"a" * 3_000_000, max_bytes=2_621_440)
    assert "2.5 MB" in str(error.message)


def test_the_size_limit_can_be_raised_by_the_caller():
    data = b"a" * (MAX_FILE_BYTES + 1)
    assert clean_evidence("notes.txt", data, max_bytes=2 * MAX_FILE_BYTES).size == len(data)


@pytest.mark.parametrize("size", [(100_000, 100_000), (30_000, 30_000)], ids=["10 Gpx", "900 Mpx"])
def test_a_decompression_bomb_is_refused_without_being_decoded(size):
    assert_refused("too_large", "bomb.png", png_claiming(*size))


def test_a_picture_with_more_pixels_than_the_cap_is_refused():
    # 64 megapixels of nothing compress to a few kilobytes.
    output = io.BytesIO()
    Image.new("1", (8000, 8000)).save(output, "PNG")
    assert len(output.getvalue()) < 100_000

    assert_refused("too_large", "huge.png", output.getvalue())
    assert_refused("too_large", "photo.jpg", jpeg_from_phone(), max_pixels=100)


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("photo.jpg", jpeg_from_phone()[:400]),
        ("capture.png", png_with_text_chunks()[:200]),
        ("message.webp", webp_with_metadata()[:60]),
        ("IMG.heic", heic_from_phone()[:300]),
        ("statement.pdf", pdf_with_metadata()[:500]),
        ("statement.pdf", b"%PDF-1.7\nnot really a PDF"),
        ("capture.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
        ("empty.txt", b""),
    ],
    ids=["jpeg", "png", "webp", "heic", "pdf", "pdf header only", "png signature only", "empty"],
)
def test_a_truncated_or_malformed_file_is_refused_as_unreadable(filename, data):
    assert_refused("unreadable", filename, data)


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("photo.jpg", jpeg_from_phone),
        ("capture.png", png_with_text_chunks),
        ("message.webp", webp_with_metadata),
        ("IMG.heic", heic_from_phone),
        ("statement.pdf", pdf_with_metadata),
    ],
)
def test_damaged_files_give_a_clean_file_or_an_evidence_error_and_nothing_else(filename, make):
    original = make()
    randomness = random.Random(filename)
    for _ in range(25):
        damaged = bytearray(original[: randomness.randrange(1, len(original) + 1)])
        for _ in range(randomness.randrange(0, 8)):
            damaged[randomness.randrange(len(damaged))] = randomness.randrange(256)
        try:
            cleaned = clean_evidence(filename, bytes(damaged))
        except EvidenceError as error:
            assert error.code in {"unreadable", "type_mismatch", "unsupported_type", "too_large"}
        else:
            assert isinstance(cleaned, CleanFile)


# Names and limits


@pytest.mark.parametrize(
    ("filename", "safe_name"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\Ana\\Desktop\\notes.txt", "notes.txt"),
        ("notes\x00.txt", "notes.txt"),
        ("no\ttes\r\n.txt", "notes.txt"),
        ("  .hidden notes .txt", "hidden notes.txt"),
        ('what "he" said?.txt', "what _he_ said_.txt"),
        ("con.txt", "evidence-con.txt"),
        (".txt", "txt.txt"),
        ("", "evidence.txt"),
        ("é" * 200 + ".txt", "é" * 50 + ".txt"),
    ],
)
def test_safe_name_keeps_a_harmless_base_name_with_the_right_extension(filename, safe_name):
    assert clean_evidence(filename, b"words").safe_name == safe_name


def test_allowed_types_name_each_accepted_kind_with_its_extensions():
    assert set(ALLOWED_TYPES) == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "application/pdf",
        "text/plain",
    }
    assert ALLOWED_TYPES["image/jpeg"][0] == ".jpg"
    with pytest.raises(TypeError):
        ALLOWED_TYPES["text/html"] = (".html",)


def test_more_files_than_allowed_are_refused():
    check_file_count(MAX_FILES)
    with pytest.raises(EvidenceError) as caught:
        check_file_count(MAX_FILES + 1)
    assert caught.value.code == "too_many_files"
    assert "5" in str(caught.value.message)
    check_file_count(8, max_files=8)
    with pytest.raises(EvidenceError, match="too_many_files"):
        check_file_count(3, max_files=2)


def test_a_pdf_loses_its_scripts_and_attached_files():
    from pypdf.actions import JavaScript

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_attachment("orig.jpg", b"\xff\xd8\xff\xe1 GPS secret place")
    writer.add_open_action(JavaScript("app.alert('opened');"))
    raw = io.BytesIO()
    writer.write(raw)

    def active(reader):
        root = reader.trailer["/Root"]
        names = root.get("/Names", {})
        return {
            "attachments": dict(reader.attachments),
            "javascript": "/JavaScript" in names or "/OpenAction" in root,
        }

    before = active(PdfReader(io.BytesIO(raw.getvalue())))
    assert before["attachments"] and before["javascript"]  # the test file has both

    clean = clean_evidence("letter.pdf", raw.getvalue())

    reader = PdfReader(io.BytesIO(clean.data))
    assert active(reader) == {"attachments": {}, "javascript": False}
    assert len(reader.pages) == 1
