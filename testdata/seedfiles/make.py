#!/usr/bin/env python3
"""Writes PSKC test files with tools independent of keydesk's own writer:
hashlib for PBKDF2, hmac for the MACs, openssl(1) for AES-CBC and the
`cryptography` package for the RFC 3394 key wrap. It also writes
expected.json, the fobs each file must yield (or the error it must give).

Run from this directory: python3 make.py   (deterministic: fixed keys, IVs)
"""
import base64, hashlib, hmac, json, random, subprocess

from cryptography.hazmat.primitives.keywrap import aes_key_wrap, aes_key_wrap_with_padding

rng = random.Random(6030)
def rnd(n): return bytes(rng.getrandbits(8) for _ in range(n))
def b64(b): return base64.b64encode(b).decode()

XENC = "http://www.w3.org/2001/04/xmlenc#"
HASHES = {"sha1": (hashlib.sha1, "http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
          "sha224": (hashlib.sha224, "http://www.w3.org/2001/04/xmldsig-more#hmac-sha224"),
          "sha256": (hashlib.sha256, "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"),
          "sha384": (hashlib.sha384, "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384"),
          "sha512": (hashlib.sha512, "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512")}

def encrypt(cipher, key, plain):
    if cipher.startswith("kw-"):  # RFC 3394, or RFC 5649 for odd lengths
        if len(plain) % 8:
            return aes_key_wrap_with_padding(key, plain)
        return aes_key_wrap(key, plain)
    iv = rnd(16)
    out = subprocess.run(["openssl", "enc", "-%s" % cipher, "-K", key.hex(), "-iv", iv.hex()],
                         input=plain, capture_output=True, check=True).stdout
    return iv + out

def enc_value(cipher, key, mackey, h, plain):
    ct = encrypt(cipher, key, plain)
    mac = hmac.new(mackey, ct, HASHES[h][0]).digest()
    return ('<EncryptedValue><xenc:EncryptionMethod Algorithm="%s%s"/><xenc:CipherData><xenc:CipherValue>%s'
            '</xenc:CipherValue></xenc:CipherData></EncryptedValue><ValueMAC>%s</ValueMAC>' % (XENC, cipher, b64(ct), b64(mac)))

def keypackage(f, secret_xml, extra=""):
    return ('<KeyPackage><DeviceInfo><Manufacturer>Py Vendor</Manufacturer><SerialNo>%s</SerialNo></DeviceInfo>'
            '<Key Id="%s" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"><AlgorithmParameters>'
            '<ResponseFormat Length="%d" Encoding="DECIMAL"/></AlgorithmParameters><Data><Secret>%s</Secret>'
            '<Counter><PlainValue>%d</PlainValue></Counter></Data></Key></KeyPackage>\n'
            % (f["serial"], f["serial"], f["digits"], secret_xml, f["counter"]))

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" '
        'xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" xmlns:pkcs5="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#">\n')

expected = {}

def fobs(prefix, n, seedlen):
    return [dict(serial="%s-%d" % (prefix, i), kind="hotp", algorithm="SHA1", digits=6 + 2 * (i % 2),
                 counter=i * 7, secret=rnd(seedlen).hex()) for i in range(1, n + 1)]

def write(name, body, fs, keys=None, error=None):
    open(name, "w").write(HEAD + body + "</KeyContainer>\n")
    expected[name] = dict(keys=keys or {}, fobs=fs, error=error)

def encrypted_file(name, cipher, keylen, h, seedlen, enc_key_xml, key, keys, mackey_len=20, tamper=None):
    mackey = rnd(mackey_len)
    fs = fobs(name.split(".")[0], 3, seedlen)
    body = enc_key_xml + '<MACMethod Algorithm="%s"><MACKey><xenc:EncryptionMethod Algorithm="%s%s"/><xenc:CipherData><xenc:CipherValue>%s</xenc:CipherValue></xenc:CipherData></MACKey></MACMethod>\n' % (
        HASHES[h][1], XENC, cipher, b64(encrypt(cipher, key, mackey)))
    for i, f in enumerate(fs):
        v = enc_value(cipher, key, mackey, h, bytes.fromhex(f["secret"]))
        if tamper == i:  # flip one base64 character of the CipherValue
            j = v.index("<xenc:CipherValue>") + 30
            v = v[:j] + ("A" if v[j] != "A" else "B") + v[j + 1:]
        body += keypackage(f, v)
    err = None
    if tamper is not None:
        err = "ErrBadMAC"
    write(name, body, fs, keys, err)

PSK_XML = '<EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>\n'
for cipher, keylen, h, seedlen in [("aes-128-cbc", 16, "sha1", 20), ("aes-192-cbc", 24, "sha224", 20),
                                   ("aes-256-cbc", 32, "sha256", 32), ("kw-aes128", 16, "sha384", 32),
                                   ("kw-aes192", 24, "sha512", 64), ("kw-aes256", 32, "sha256", 32)]:
    key = rnd(keylen)
    uri = cipher.replace("aes-128-cbc", "aes128-cbc").replace("aes-192-cbc", "aes192-cbc").replace("aes-256-cbc", "aes256-cbc")
    encrypted_file("py-psk-%s-%s.pskc" % (uri, h), uri if uri.startswith("kw") else cipher, keylen, h, seedlen,
                   PSK_XML, key, {"psk": key.hex()})

# The CBC cipher names above go to openssl as given; fix the URIs in the files.
import glob
for fn in glob.glob("py-psk-aes*.pskc"):
    s = open(fn).read()
    for a, b in [("aes-128-cbc", "aes128-cbc"), ("aes-192-cbc", "aes192-cbc"), ("aes-256-cbc", "aes256-cbc")]:
        s = s.replace(XENC + a, XENC + b)
    open(fn, "w").write(s)

def pbkdf2_xml(style, salt, it, keylen, prf):
    if style == "rfc":  # RFC 6030 figure 7: pkcs5 params, unqualified children, empty PRF
        params = ('<pkcs5:PBKDF2-params xmlns=""><Salt><Specified>%s</Specified></Salt><IterationCount>%d</IterationCount>'
                  '<KeyLength>%d</KeyLength><PRF/></pkcs5:PBKDF2-params>' % (b64(salt), it, keylen))
        alg = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2"
    elif style == "pkcs5":  # everything pkcs5-prefixed, PRF named
        params = ('<pkcs5:PBKDF2-params><pkcs5:Salt><pkcs5:Specified>%s</pkcs5:Specified></pkcs5:Salt><pkcs5:IterationCount>%d</pkcs5:IterationCount>'
                  '<pkcs5:KeyLength>%d</pkcs5:KeyLength><pkcs5:PRF Algorithm="%s"/></pkcs5:PBKDF2-params>' % (b64(salt), it, keylen, HASHES[prf][1]))
        alg = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2"
    else:  # XML Encryption 1.1
        params = ('<xenc11:PBKDF2-params><xenc11:Salt><xenc11:Specified>%s</xenc11:Specified></xenc11:Salt><xenc11:IterationCount>%d</xenc11:IterationCount>'
                  '<xenc11:KeyLength>%d</xenc11:KeyLength><xenc11:PRF Algorithm="%s"/></xenc11:PBKDF2-params>' % (b64(salt), it, keylen, HASHES[prf][1]))
        alg = "http://www.w3.org/2009/xmlenc11#pbkdf2"
    return ('<EncryptionKey><xenc11:DerivedKey><xenc11:KeyDerivationMethod Algorithm="%s">%s</xenc11:KeyDerivationMethod>'
            '<xenc11:MasterKeyName>test</xenc11:MasterKeyName></xenc11:DerivedKey></EncryptionKey>\n' % (alg, params))

for style, cipher, keylen, prf, h, it in [("rfc", "aes-128-cbc", 16, "sha1", "sha1", 1000),
                                          ("pkcs5", "aes-192-cbc", 24, "sha512", "sha384", 2000),
                                          ("xenc11", "aes-256-cbc", 32, "sha256", "sha256", 3000),
                                          ("xenc11", "kw-aes128", 16, "sha384", "sha224", 1500)]:
    salt, pw = rnd(12), "pässwörd %s" % style
    key = hashlib.pbkdf2_hmac(prf, pw.encode(), salt, it, keylen)
    name = "py-pbkdf2-%s-%s-%s.pskc" % (style, prf, cipher.replace("-", ""))
    encrypted_file(name, cipher, keylen, h, 20 if not cipher.startswith("kw") else 32,
                   pbkdf2_xml(style, salt, it, keylen, prf), key, {"password": pw, "derived": key.hex()})
    s = open(name).read()
    for a, b in [("aes-128-cbc", "aes128-cbc"), ("aes-192-cbc", "aes192-cbc"), ("aes-256-cbc", "aes256-cbc")]:
        s = s.replace(XENC + a, XENC + b)
    open(name, "w").write(s)

# Altered files: the second value's ciphertext (first one verifies), and the
# first value's (only a later one can show the key is right).
for name, tamper in [("py-altered-second.pskc", 1), ("py-altered-first.pskc", 0)]:
    key = rnd(16)
    encrypted_file(name, "aes-128-cbc", 16, "sha1", 20, PSK_XML, key, {"psk": key.hex()}, tamper=tamper)
    s = open(name).read().replace(XENC + "aes-128-cbc", XENC + "aes128-cbc")
    open(name, "w").write(s)

# TOTP with every field, plain, "#totp" URI, Suite, UserId on the Key.
secret = rnd(32)
body = ('<KeyPackage><DeviceInfo><Manufacturer>Py Vendor</Manufacturer><SerialNo>TOTP-1</SerialNo><Model>T100</Model></DeviceInfo>'
        '<Key Id="K-77" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc#totp"><Issuer>Example &amp; Co</Issuer><AlgorithmParameters>'
        '<Suite>HMAC-SHA256</Suite><ResponseFormat Length="8" Encoding="DECIMAL"/></AlgorithmParameters>'
        '<FriendlyName>alice@example.org</FriendlyName><Data><Secret><PlainValue>%s</PlainValue></Secret>'
        '<Time><PlainValue>1600000000</PlainValue></Time><TimeInterval><PlainValue>60</PlainValue></TimeInterval>'
        '<TimeDrift><PlainValue>-2</PlainValue></TimeDrift></Data><UserId>alice</UserId></Key></KeyPackage>\n' % b64(secret))
write("py-totp-fields.pskc", body, [dict(serial="TOTP-1", kind="totp", algorithm="SHA256", digits=8, period=60, t0=1600000000,
      drift=-2, secret=secret.hex(), user="alice", key_id="K-77", issuer="Example & Co", label="alice@example.org",
      manufacturer="Py Vendor", model="T100")])

# YubiKey Personalization Tool PSKC (its YubiKeyLogger layout, one line per key).
aes, priv = rnd(16), rnd(6)
hotp = rnd(20)
yk = ('<KeyPackage><DeviceInfo><Manufacturer>Yubico</Manufacturer><SerialNo>2309853</SerialNo></DeviceInfo><CryptoModuleInfo><Id>1</Id></CryptoModuleInfo>'
      '<Key Id="2309853:1" Algorithm="http://www.yubico.com/#yubikey-aes"><AlgorithmParameters><ResponseFormat Length="44" Encoding="ALPHANUMERIC"/></AlgorithmParameters>'
      '<Data><Secret><PlainValue>%s</PlainValue></Secret></Data><UserId>CN=vvcccbhcklhb, UID=%s</UserId></Key></KeyPackage>\n'
      '<KeyPackage><DeviceInfo><Manufacturer>Yubico</Manufacturer><SerialNo>2309854</SerialNo></DeviceInfo><CryptoModuleInfo><Id>2</Id></CryptoModuleInfo>'
      '<Key Id="2309854:2" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"><AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>'
      '<Data><Secret><PlainValue>%s</PlainValue></Secret><Counter><PlainValue>16</PlainValue></Counter></Data></Key></KeyPackage>\n'
      % (b64(aes), priv.hex(), b64(hotp)))
open("py-yubikey.pskc", "w").write('<?xml version="1.0" encoding="UTF-8"?>\n<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">\n' + yk + "</KeyContainer>")
expected["py-yubikey.pskc"] = dict(keys={}, error=None, fobs=[
    dict(serial="2309853", kind="yubico", secret=aes.hex(), public_id="vvcccbhcklhb", private_id=priv.hex(), key_id="2309853:1", manufacturer="Yubico"),
    dict(serial="2309854", kind="hotp", algorithm="SHA1", digits=6, counter=16, secret=hotp.hex(), key_id="2309854:2", manufacturer="Yubico")])

json.dump(expected, open("expected.json", "w"), indent=1, sort_keys=True)
