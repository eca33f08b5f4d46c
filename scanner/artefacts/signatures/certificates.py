"""How a certificate names its holder: the one rule every signature check reports by.

Subject Alternative Names first (email, URI, DNS, in that order: Fulcio puts the OIDC identity
there), then the subject's common name, for certificates of a private CA that carry no SAN.
Identity pinning (`integrity.trust` `identity:`, `--evidence-identity`) matches against this
list, and findings name the signer with it, so model signatures, cosign signatures and
evidence-pack signatures agree on who signed.
"""

from __future__ import annotations

import contextlib
from typing import Any


def holder_names(certificate: Any) -> list[str]:
    """SAN values (email, URI, DNS), then the subject CN, of a `cryptography` certificate."""
    from cryptography import x509

    names: list[str] = []
    with contextlib.suppress(x509.ExtensionNotFound):
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind in (x509.RFC822Name, x509.UniformResourceIdentifier, x509.DNSName):
            names.extend(str(v) for v in san.get_values_for_type(kind))
    names.extend(
        str(a.value) for a in certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    )
    return names
