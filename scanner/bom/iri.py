"""IRI syntax (RFC 3987), checked fast enough for a BOM with thousands of URLs.

Why not the checker jsonschema ships: without the GPL `rfc3987` package, jsonschema checks
the `iri` and `iri-reference` formats with `rfc3987-syntax`, an Earley parser that takes about
a tenth of a second per value here, which makes validating a BOM of a few thousand models take
minutes. RFC 3987 (section 3.1) defines IRIs by their mapping to URIs: percent-encode, as
UTF-8, the characters an IRI allows beyond ASCII (`ucschar`; `iprivate` in the query only),
and the result is a URI exactly when the input was an IRI. So the check here maps the value
and tests the result with `rfc3986-validator`'s regular expressions (a jsonschema format
dependency already). Any other non-ASCII character makes the value invalid, as it does under
the grammar. A property test keeps this in agreement with `rfc3987-syntax`.
"""

from __future__ import annotations

from urllib.parse import quote

from rfc3986_validator import validate_rfc3986

# RFC 3987 section 2.2, `ucschar` and `iprivate`, limited to the Basic Multilingual Plane as
# rfc3987-syntax's grammar is: the library's own validator must accept every URL written.
_UCSCHAR = ((0xA0, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFEF))
_IPRIVATE = ((0xE000, 0xF8FF),)


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


def to_uri(value: str) -> str | None:
    """The URI an IRI maps to, or None when a character is allowed nowhere in an IRI."""
    if value.isascii():
        return value
    fragment = value.find("#")
    query = value.find("?", 0, fragment if fragment != -1 else len(value))
    out = []
    for index, char in enumerate(value):
        code = ord(char)
        if code < 0x80:
            out.append(char)
            continue
        in_query = query != -1 and query < index and (fragment == -1 or index < fragment)
        if _within(code, _UCSCHAR) or (in_query and _within(code, _IPRIVATE)):
            out.append(quote(char, safe=""))
        else:
            return None
    return "".join(out)


def is_iri(value: object, *, reference: bool = False) -> bool:
    """RFC 3987 `IRI` (absolute, with a scheme), or `IRI-reference` when `reference`."""
    if not isinstance(value, str):
        return True  # JSON Schema formats apply to strings only
    if "[" in value or "]" in value:
        # IP-literal hosts (`http://[::1]/`) are valid IRIs, but rfc3987-syntax refuses them,
        # and the library's own validator must accept what we write: refuse them too.
        return False
    uri = to_uri(value)
    if uri is None:
        return False
    return bool(validate_rfc3986(uri, rule="URI_reference" if reference else "URI"))
