"""What a text message costs: the GSM 03.38 alphabet (GSM-7) and its segments.

A text written only in GSM-7 travels as 7-bit septets, 160 to a segment (153 each when the text
needs several, the rest carrying the join); the extension table's characters (`^{}\\[~]|€` and
the form feed) take an escape septet each, so two. A single character outside GSM-7 switches the
whole text to UCS-2: 70 characters to a segment (67 when joined), and characters outside the
Basic Multilingual Plane (most emoji) take two of those. A provider bills every segment.

`to_gsm` turns a name typed with any letters into GSM-7 (é stays, ł becomes l, curly quotes
become straight ones), so that a clinic's name never silently makes every text UCS-2.
"""

import unicodedata

# 3GPP TS 23.038, 6.2.1: the default alphabet (the line feed and carriage return included) ...
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# ... and 6.2.1.1: its extension table, each character sent after an escape (two septets).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7 = GSM7_BASIC | GSM7_EXTENSION

SEGMENT_SEPTETS = 160  # one GSM-7 segment
JOINED_SEGMENT_SEPTETS = 153  # each of several (7 septets go to the concatenation header)
SEGMENT_UCS2 = 70
JOINED_SEGMENT_UCS2 = 67

# Look-alikes typed by word processors and keyboards that GSM-7 has a plain form of.
_PLAIN = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "″": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "−": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
        "…": "...",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "œ": "oe",
        "Œ": "OE",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
        "`": "'",
        "´": "'",
    }
)


def is_gsm7(text: str) -> bool:
    return all(character in GSM7 for character in text)


def gsm_septets(text: str) -> int:
    """The septets a GSM-7 text takes (an extension character two). ValueError if the text is
    not GSM-7."""
    if not is_gsm7(text):
        raise ValueError("The text is not GSM-7.")
    return len(text) + sum(character in GSM7_EXTENSION for character in text)


def sms_segments(text: str) -> int:
    """How many segments the text is sent as: by GSM-7 septets when every character is GSM-7,
    else by UCS-2 code units (a character beyond the BMP counts two). An empty text is one."""
    if is_gsm7(text):
        units, single, joined = gsm_septets(text), SEGMENT_SEPTETS, JOINED_SEGMENT_SEPTETS
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, joined = SEGMENT_UCS2, JOINED_SEGMENT_UCS2
    return 1 if units <= single else -(-units // joined)


def to_gsm(text: str) -> str:
    """The text in GSM-7: GSM-7 characters kept, look-alikes made plain, other letters without
    their accents (ł -> l, ő -> o, ç -> c), anything left dropped; white space made single
    spaces (it is for names)."""
    out = []
    for character in text.translate(_PLAIN):
        if character in GSM7:
            out.append(character)
            continue
        base = "".join(
            part
            for part in unicodedata.normalize("NFKD", character)
            if not unicodedata.combining(part)
        )
        out.append("".join(part for part in base if part in GSM7))
    return " ".join("".join(out).split())
