#!/usr/bin/python3
"""Independent check of keydesk's soft key with Debian's python3-fido2.

Reads the JSON that hid/softkey's TestPythonFido2 writes (the soft key's
real answers, hex), parses and verifies them with python-fido2, acts as
the platform of the PIN/UV auth protocols 1 and 2 against the soft key's
key-agreement keys, and writes its results as JSON for the Go test to
check. Exits non-zero, with the reason on stderr, if anything fails.
"""

import hashlib
import json
import sys

from fido2 import cbor
from fido2.attestation import PackedAttestation
from fido2.cose import CoseKey
from fido2.ctap2 import AttestationObject, AuthenticatorData, Info, PinProtocolV1, PinProtocolV2


def check(cond, what):
    if not cond:
        sys.exit("fido2_check: " + what)


def main(src, dst):
    with open(src) as f:
        inp = {k: (bytes.fromhex(v) if isinstance(v, str) else v) for k, v in json.load(f).items()}
    out = {}

    info = Info(inp["get_info"])
    check("FIDO_2_1" in info.versions, "versions %r" % info.versions)
    out["aaguid"] = bytes(info.aaguid).hex()
    out["options"] = info.options

    for alg in ("es256", "eddsa"):
        cdh = inp["client_data_hash"]
        att = AttestationObject(inp["attestation_object_" + alg])
        check(att.fmt == "packed", "format %s" % att.fmt)
        # Checks the signature and the certificate's subject, version,
        # basic constraints and AAGUID extension (WebAuthn 8.2.1); trust
        # in the self-signed certificate is not its business.
        PackedAttestation().verify(att.att_statement, att.auth_data, cdh)
        cred = att.auth_data.credential_data
        check(bytes(cred.aaguid).hex() == out["aaguid"], "AAGUID differs from getInfo's")
        key = CoseKey.parse(cred.public_key)
        ad = AuthenticatorData(inp["assertion_auth_data_" + alg])
        check(ad.is_user_present() and ad.counter > att.auth_data.counter, "assertion flags or counter")
        key.verify(bytes(ad) + cdh, inp["assertion_signature_" + alg])
        out["credential_id_" + alg] = bytes(cred.credential_id).hex()
        out["alg_" + alg] = key.ALGORITHM

    for proto in (PinProtocolV1(), PinProtocolV2()):
        v = str(proto.VERSION)
        peer = cbor.decode(inp["key_agreement_%s" % v])
        key_agreement, shared = proto.encapsulate(peer)
        pin = "1234".encode()
        new_pin_enc = proto.encrypt(shared, pin + b"\0" * (64 - len(pin)))
        out["pin_%s" % v] = {
            "key_agreement": cbor.encode(key_agreement).hex(),
            "pin_hash_enc": proto.encrypt(shared, hashlib.sha256(pin).digest()[:16]).hex(),
            "new_pin_enc": new_pin_enc.hex(),
            "pin_uv_auth_param": proto.authenticate(shared, new_pin_enc).hex(),
        }

    with open(dst, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
