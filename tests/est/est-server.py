#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An EST (RFC 7030) server for certkeeper's tests: python3 stdlib and openssl only.

It serves /.well-known/est/[LABEL/]{cacerts,simpleenroll,simplereenroll,csrattrs}
over TLS on 127.0.0.1, signs CSRs with a real two-level CA made by openssl in
--dir, enforces RFC 7030's client-authentication rules and can misbehave on
purpose (202 + Retry-After, 5xx, garbage bodies, delays) from the command line
or from a control file rewritten while it runs. See tests/est/README.md.
"""

import argparse
import base64
import binascii
import hashlib
import http.server
import json
import os
import secrets
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time

PREFIX = "/.well-known/est/"
# certkeeper-proof-nonce is certkeeper's extension (docs/ca-est.md): a single-use
# nonce for an attestation proof, the recovery ladder's last step
OPERATIONS = ("cacerts", "simpleenroll", "simplereenroll", "csrattrs", "certkeeper-proof-nonce")
PROOF_CONTEXT = b"certkeeper-proof-v1\n"
PROOF_NONCE_LIFETIME = 300
# what openssl pkey -text_pub shows for the one key kind each proof algorithm fits,
# and the digest it signs with: an EC key's hash follows its curve
PROOF_ALGORITHMS = {"ECDSA-SHA256": ("NIST CURVE: P-256", "-sha256"),
                    "ECDSA-SHA384": ("NIST CURVE: P-384", "-sha384"),
                    "ECDSA-SHA512": ("NIST CURVE: P-521", "-sha512"),
                    "RSA-SHA256": ("Modulus:", "-sha256"),
                    "EdDSA-Ed25519": ("ED25519 Public-Key:", None)}
ENROLL_OPERATIONS = ("simpleenroll", "simplereenroll")

# Extensions of every certificate this CA issues. Only the subject and the
# subjectAltName come from the CSR: copying a client's other extensions would
# let it ask for basicConstraints CA:TRUE.
LEAF_EXTENSIONS = """basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
"""


def log(message):
    print("est-server: " + message, file=sys.stderr, flush=True)


def openssl(*args, data=None):
    """Runs openssl; returns stdout (bytes), raises RuntimeError with its stderr."""
    proc = subprocess.run(["openssl"] + list(args), input=data, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], proc.stderr.decode(errors="replace").strip()))
    return proc.stdout


# ---------------------------------------------------------------- attestation proofs


class Proofs:
    """Proof keys registered at enrollment (subject -> base64 SPKI, kept in
    DIR/proof-keys.json) and the nonces handed out (single use, 5 minutes)."""

    def __init__(self, directory, enabled):
        self.enabled = enabled
        self.path = os.path.join(directory, "proof-keys.json")
        self.lock = threading.Lock()
        self.nonces = {}
        try:
            with open(self.path) as f:
                self.keys = json.load(f)
        except (OSError, ValueError):
            self.keys = {}

    def new_nonce(self):
        nonce = secrets.token_urlsafe(32)
        now = time.time()
        with self.lock:
            self.nonces = {n: t for n, t in self.nonces.items() if t > now}
            self.nonces[nonce] = now + PROOF_NONCE_LIFETIME
        return nonce

    def register(self, subject, public_key):
        """Keeps @subject's proof key; an HTTPError 400 for one that is no SPKI."""
        try:
            der = base64.b64decode(public_key, validate=True)
            openssl("pkey", "-pubin", "-inform", "DER", "-noout", data=der)
        except (binascii.Error, RuntimeError):
            raise HTTPError(400, "%s is no base64 SubjectPublicKeyInfo" % HEADER_PROOF_PUBLIC_KEY)
        with self.lock:
            self.keys[subject] = public_key
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.keys, f)
            os.replace(tmp, self.path)

    def verify(self, subject, csr_der, nonce, signature, algorithm):
        """Checks a proof for @csr_der; an HTTPError 403 naming what is wrong."""
        with self.lock:
            expires = self.nonces.pop(nonce, None)
            public_key = self.keys.get(subject)
        if expires is None or expires <= time.time():
            raise HTTPError(403, "the proof's nonce is unknown, expired or was used before")
        if public_key is None:
            raise HTTPError(403, "no proof key is registered for %s" % subject)
        if algorithm not in PROOF_ALGORITHMS:
            raise HTTPError(403, "unknown proof signature algorithm '%s'" % algorithm)
        try:
            sig = base64.b64decode(signature, validate=True)
        except binascii.Error:
            raise HTTPError(403, "the proof's signature is not base64")
        message = PROOF_CONTEXT + nonce.encode() + b"\n" + hashlib.sha256(csr_der).digest()
        with tempfile.TemporaryDirectory() as tmp:
            pub = os.path.join(tmp, "pub.pem")
            sig_path = os.path.join(tmp, "sig")
            msg_path = os.path.join(tmp, "msg")
            openssl("pkey", "-pubin", "-inform", "DER", "-out", pub,
                    data=base64.b64decode(public_key))
            kind = openssl("pkey", "-pubin", "-in", pub, "-noout", "-text_pub").decode()
            shows, digest = PROOF_ALGORITHMS[algorithm]
            if shows not in kind:
                raise HTTPError(403, "the proof's algorithm %s does not fit the key registered "
                                "for %s" % (algorithm, subject))
            with open(sig_path, "wb") as f:
                f.write(sig)
            with open(msg_path, "wb") as f:
                f.write(message)
            if algorithm == "EdDSA-Ed25519":
                args = ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg_path,
                        "-sigfile", sig_path]
            else:
                args = ["dgst", digest, "-verify", pub, "-signature", sig_path, msg_path]
            if subprocess.run(["openssl"] + args, capture_output=True).returncode != 0:
                raise HTTPError(403, "the proof for %s does not verify against the key registered "
                                "at enrollment" % subject)


HEADER_PROOF_PUBLIC_KEY = "Certkeeper-Proof-Public-Key"
HEADER_PROOF_NONCE = "Certkeeper-Proof-Nonce"
HEADER_PROOF_SIGNATURE = "Certkeeper-Proof-Signature"
HEADER_PROOF_ALGORITHM = "Certkeeper-Proof-Algorithm"


# ---------------------------------------------------------------- the CA


class CA:
    """root.pem -> ca.pem (issuing) -> leaves, server.pem for TLS; a separate
    bootstrap CA (bootstrap-ca.pem) with one client certificate (bootstrap.pem)
    stands for a manufacturer's device identity (RFC 7030 §3.3.2 "third party")."""

    def __init__(self, directory, days, extra_anchors=()):
        self.dir = directory
        self.days = days
        self.lock = threading.Lock()
        self.extra_anchors = list(extra_anchors)
        os.makedirs(directory, exist_ok=True)
        self._make()

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name):
        if not os.path.exists(self.path(name)):
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", self.path(name))

    def _ext_file(self, text):
        fd, name = tempfile.mkstemp(dir=self.dir, suffix=".ext")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return name

    def _make_cert(self, name, subject, issuer, ext, days=3650):
        if os.path.exists(self.path(name + ".pem")):
            return
        self._key(name + ".key")
        ext_name = self._ext_file("[req]\ndistinguished_name=dn\n[dn]\n[v3]\n" + ext)
        try:
            if issuer is None:
                openssl("req", "-new", "-x509", "-key", self.path(name + ".key"), "-subj", subject,
                        "-days", str(days), "-config", ext_name, "-extensions", "v3",
                        "-out", self.path(name + ".pem"))
            else:
                csr = openssl("req", "-new", "-key", self.path(name + ".key"), "-subj", subject,
                              "-config", ext_name)
                openssl("x509", "-req", "-CA", self.path(issuer + ".pem"),
                        "-CAkey", self.path(issuer + ".key"),
                        "-set_serial", "0x" + secrets.token_hex(12), "-days", str(days),
                        "-extfile", ext_name, "-extensions", "v3",
                        "-out", self.path(name + ".pem"), data=csr)
        finally:
            os.unlink(ext_name)

    def _make(self):
        ca_ext = ("basicConstraints=critical,CA:TRUE%s\nkeyUsage=critical,keyCertSign,cRLSign\n"
                  "subjectKeyIdentifier=hash\n")
        self._make_cert("root", "/O=certkeeper tests/CN=EST Test Root CA", None, ca_ext % "")
        self._make_cert("ca", "/O=certkeeper tests/CN=EST Test Issuing CA", "root",
                        ca_ext % ",pathlen:0" + "authorityKeyIdentifier=keyid\n")
        self._make_cert("server", "/CN=localhost", "ca",
                        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
        self._make_cert("bootstrap-ca", "/O=certkeeper tests/CN=EST Test Bootstrap CA", None,
                        ca_ext % "")
        self._make_cert("bootstrap", "/CN=bootstrap device 0001", "bootstrap-ca",
                        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=clientAuth\n")
        # what TLS verifies client certificates against: both CAs' trees
        with open(self.path("client-anchors.pem"), "w") as out:
            for name in [self.path(n + ".pem") for n in ("root", "ca", "bootstrap-ca")] + self.extra_anchors:
                with open(name) as f:
                    out.write(f.read())
        with open(self.path("server-chain.pem"), "w") as out:
            for name in ("server", "ca"):
                with open(self.path(name + ".pem")) as f:
                    out.write(f.read())

    def cacerts_der(self):
        """RFC 7030 §4.1.3: the current root and the certificates up to it, certs-only PKCS#7."""
        return openssl("crl2pkcs7", "-nocrl", "-certfile", self.path("ca.pem"),
                       "-certfile", self.path("root.pem"), "-outform", "DER")

    def issued_by(self, der, anchor, untrusted=None):
        """Does the certificate @der chain to @anchor (a file in the CA directory)?"""
        args = ["openssl", "verify", "-purpose", "sslclient", "-CAfile", self.path(anchor)]
        if untrusted:
            args += ["-untrusted", self.path(untrusted)]
        pem = openssl("x509", "-inform", "DER", data=der)
        proc = subprocess.run(args, input=pem, capture_output=True)
        return proc.returncode == 0

    def sign(self, csr_der, days):
        """Signs a DER CSR: subject and subjectAltName from the CSR, our extensions."""
        csr_pem = openssl("req", "-inform", "DER", "-outform", "PEM", data=csr_der)
        # a broken self-signature means the client does not hold the key
        openssl("req", "-verify", "-noout", data=csr_pem)
        names = csr_names(csr_pem, "req")
        ext = LEAF_EXTENSIONS
        if names["san"]:
            ext += "subjectAltName=" + ",".join(san_to_config(s) for s in names["san"]) + "\n"
        ext_name = self._ext_file("[v3]\n" + ext)
        try:
            with self.lock:
                leaf = openssl("x509", "-req", "-CA", self.path("ca.pem"),
                               "-CAkey", self.path("ca.key"),
                               "-set_serial", "0x" + secrets.token_hex(12), "-days", str(days),
                               "-extfile", ext_name, "-extensions", "v3", data=csr_pem)
        finally:
            os.unlink(ext_name)
        # RFC 7030 §4.2.3: the response holds the issued certificate only
        fd, leaf_name = tempfile.mkstemp(dir=self.dir, suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(leaf)
            return openssl("crl2pkcs7", "-nocrl", "-certfile", leaf_name, "-outform", "DER")
        finally:
            os.unlink(leaf_name)


def csr_names(pem, kind):
    """The subject (RFC 2253) and sorted subjectAltName entries of a PEM CSR or certificate."""
    subject = openssl(kind, "-noout", "-subject", "-nameopt", "RFC2253", data=pem).decode()
    subject = subject.strip()
    if subject.startswith("subject="):
        subject = subject[len("subject="):]
    text = openssl(kind, "-noout", "-text", data=pem).decode().splitlines()
    san = []
    for i, line in enumerate(text):
        if "X509v3 Subject Alternative Name" in line and i + 1 < len(text):
            san = sorted(part.strip() for part in text[i + 1].split(",") if part.strip())
    return {"subject": subject, "san": san}


def san_to_config(entry):
    """openssl's -text spelling of a subjectAltName entry -> its config spelling."""
    kind, _, value = entry.partition(":")
    kind = {"IP Address": "IP", "email": "email", "DNS": "DNS", "URI": "URI"}.get(kind)
    if kind is None:
        raise ValueError("unsupported subjectAltName entry " + entry)
    return kind + ":" + value


# ---------------------------------------------------------------- DER for csrattrs


def der_length(n):
    if n < 0x80:
        return bytes([n])
    out = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(out)]) + out


def der(tag, content):
    return bytes([tag]) + der_length(len(content)) + content


def der_oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2:
        raise ValueError("OID %s has fewer than two arcs" % dotted)
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, bytes(body))


def der_integer(n):
    body = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
    return der(0x02, body)


def csrattrs_value(value):
    """One value of an Attribute: "OID", "int:N" (an INTEGER, e.g. rsaEncryption's
    key size) or "ext:OID:critical|noncritical:HEX" (an Extension with its extnValue,
    for extensionRequest; consecutive ones form one Extensions SEQUENCE)."""
    if value.startswith("int:"):
        return der_integer(int(value[4:]))
    if value.startswith("ext:"):
        oid, critical, hexvalue = value[4:].split(":")
        body = der_oid(oid)
        if critical == "critical":
            body += der(0x01, b"\xff")
        body += der(0x04, bytes.fromhex(hexvalue))
        return der(0x30, body)
    return der_oid(value)


def csrattrs_der(specs):
    """RFC 7030 §4.5.2: CsrAttrs ::= SEQUENCE OF AttrOrOID, from specs "OID" (a bare
    OID) or "OID=VALUE[+VALUE...]" (an Attribute with those values, see
    csrattrs_value(): the RFC's example is id-ecPublicKey with the value secp384r1)."""
    items = b""
    for spec in specs:
        oid, _, values = spec.partition("=")
        if not values:
            items += der_oid(oid)
            continue
        encoded, extensions = [], b""
        for v in values.split("+"):
            if v.startswith("ext:"):
                extensions += csrattrs_value(v)
            else:
                encoded.append(csrattrs_value(v))
        if extensions:
            encoded.append(der(0x30, extensions))
        items += der(0x30, der_oid(oid) + der(0x31, b"".join(encoded)))
    return der(0x30, items)


def csr_challenge(pem):
    """The challengePassword of a PEM CSR, or None."""
    for line in openssl("req", "-noout", "-text", data=pem).decode(errors="replace").splitlines():
        name, _, value = line.strip().partition(":")
        if name.strip() == "challengePassword":
            return value.strip()
    return None


# ---------------------------------------------------------------- behaviour


class Behaviour:
    """What the server does on purpose: command-line defaults, overridden by the
    control file (JSON, same keys as the options with '_' for '-'), re-read at
    every request. Counters (the first K answers) restart whenever the control
    file's content changes."""

    KEYS = ("retry_after", "retry_count", "fail_status", "fail_count", "garbage", "delay",
            "fault_ops", "days", "enroll_with_issued", "content_type", "huge_body", "truncate")

    def __init__(self, args):
        self.defaults = {k: getattr(args, k) for k in self.KEYS}
        self.control = args.control
        self.lock = threading.Lock()
        self.seen = None
        self.settings = dict(self.defaults)
        self.retries_given = 0
        self.failures_given = 0

    def current(self):
        with self.lock:
            text = None
            if self.control and os.path.exists(self.control):
                with open(self.control) as f:
                    text = f.read()
            if text != self.seen:
                self.seen = text
                self.settings = dict(self.defaults)
                if text and text.strip():
                    try:
                        for key, value in json.loads(text).items():
                            if key not in self.KEYS:
                                log("control file: unknown key %s ignored" % key)
                                continue
                            self.settings[key] = value
                    except (ValueError, AttributeError) as e:
                        log("control file %s is not a JSON object (%s): ignored" % (self.control, e))
                self.retries_given = 0
                self.failures_given = 0
            return dict(self.settings)

    def applies(self, op, s):
        ops = s["fault_ops"]
        if isinstance(ops, str):
            ops = ops.split(",")
        return op in ops or "all" in ops

    def answer_faults(self, op):
        """What to do to a 200 answer of @op on its way out: a Content-Type instead of
        the right one, and whether to cut the body short (content_type, truncate)."""
        s = self.current()
        if not self.applies(op, s):
            return None, False
        return s["content_type"] or None, bool(s["truncate"])

    def fault(self, op):
        """None, or ("retry", seconds) / ("fail", status) / ("garbage", mode) /
        ("huge", MiB) for @op."""
        s = self.current()
        if not self.applies(op, s):
            return None
        with self.lock:
            if s["retry_count"] and self.retries_given < s["retry_count"]:
                self.retries_given += 1
                return ("retry", s["retry_after"])
            if s["fail_status"] and (not s["fail_count"] or self.failures_given < s["fail_count"]):
                self.failures_given += 1
                return ("fail", s["fail_status"])
        if s["huge_body"]:
            return ("huge", s["huge_body"])
        if s["garbage"]:
            return ("garbage", s["garbage"])
        return None


class EventLog:
    """One JSON object per answered request, so tests can see which authentication was used."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, record):
        if not self.path:
            return
        with self.lock, open(self.path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")


class HTTPError(Exception):
    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# ---------------------------------------------------------------- HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "certkeeper-est-test/1"

    def setup(self):
        # the TLS handshake runs here, in the connection's own thread, so a slow
        # or broken client never holds up the others
        self.request.settimeout(30)
        self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    # -- helpers

    def send(self, status, body=b"", headers=None, truncate=False):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # one exchange per connection keeps the server simple; HTTP/1.1 allows it
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        try:
            # truncate: the Content-Length promises more than comes before the close
            self.wfile.write(body[:len(body) // 2] if truncate else body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
            # a client that stops reading a huge answer is right to
            log("the client stopped reading after %s" % e)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0"))
        if length > 1 << 20:
            raise HTTPError(413, "request body too large")
        return self.rfile.read(length)

    def parse_path(self):
        """(label or None, operation) or an HTTPError 404."""
        path = self.path.split("?", 1)[0]
        if not path.startswith(PREFIX):
            raise HTTPError(404, "not an EST path: " + path)
        parts = path[len(PREFIX):].split("/")
        if len(parts) == 1:
            label, op = None, parts[0]
        elif len(parts) == 2 and parts[0]:
            label, op = parts
        else:
            raise HTTPError(404, "not an EST path: " + path)
        if op not in OPERATIONS:
            raise HTTPError(404, "unknown EST operation " + op)
        if label is not None and label not in self.server.labels:
            raise HTTPError(404, "unknown CA label " + label)
        return label, op

    def client_certificate(self):
        """The TLS client certificate (DER) and which of our trees it chains to."""
        der_cert = self.request.getpeercert(binary_form=True)
        if not der_cert:
            return None, None
        ca = self.server.ca
        if ca.issued_by(der_cert, "root.pem", untrusted="ca.pem"):
            return der_cert, "issuing"
        if self.server.bootstrap_anchor and ca.issued_by(der_cert, self.server.bootstrap_anchor):
            return der_cert, "bootstrap"
        return der_cert, "unknown"

    def basic_user(self):
        """The user name when valid HTTP Basic credentials came; None when none came."""
        value = self.headers.get("Authorization")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            raise HTTPError(401, "only HTTP Basic authentication is supported", self.challenge())
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise HTTPError(400, "malformed Basic credentials")
        if (user, password) not in self.server.users:
            raise HTTPError(401, "wrong user name or password", self.challenge())
        return user

    def challenge(self):
        return {"WWW-Authenticate": 'Basic realm="%s"' % self.server.realm} if self.server.users else {}

    def authorise(self, op, csr_der, record):
        """RFC 7030 §3.3.2 and §4.2: who may enroll and re-enroll. Fills record["auth"]."""
        cert, tree = self.client_certificate()
        user = self.basic_user()
        nonce = self.headers.get(HEADER_PROOF_NONCE)
        if op == "simpleenroll" and nonce is not None and cert is None and user is None:
            # certkeeper's attestation proof: nothing else to show, the proof key
            # registered at enrollment signs our nonce and this very CSR
            proofs = self.server.proofs
            if not proofs.enabled:
                raise HTTPError(403, "this server takes no attestation proofs")
            subject = csr_names(openssl("req", "-inform", "DER", data=csr_der), "req")["subject"]
            record["client_subject"] = subject
            algorithm = (self.headers.get(HEADER_PROOF_ALGORITHM) or "").strip()
            record["proof_algorithm"] = algorithm
            proofs.verify(subject, csr_der, nonce.strip(),
                          (self.headers.get(HEADER_PROOF_SIGNATURE) or "").strip(), algorithm)
            record["auth"] = "proof"
            return
        if op == "simplereenroll":
            # §4.2.2: the certificate being renewed authenticates the client at the TLS
            # layer, and the request must name exactly what that certificate names
            if cert is None:
                raise HTTPError(401, "simplereenroll needs the current certificate as TLS client certificate")
            if tree != "issuing":
                raise HTTPError(403, "the TLS client certificate was not issued by this CA (%s)" % tree)
            have = csr_names(openssl("x509", "-inform", "DER", data=cert), "x509")
            want = csr_names(openssl("req", "-inform", "DER", data=csr_der), "req")
            record["client_subject"] = have["subject"]
            if have != want:
                raise HTTPError(403, "the CSR's subject and subjectAltName (%s %s) differ from the "
                                "certificate being renewed (%s %s)" % (want["subject"], want["san"],
                                                                      have["subject"], have["san"]))
            record["auth"] = "certificate"
            return
        # simpleenroll: a device identity from the bootstrap CA, HTTP Basic, or
        # (only when asked for) a certificate of this CA
        if cert is not None:
            record["client_subject"] = csr_names(openssl("x509", "-inform", "DER", data=cert), "x509")["subject"]
        if cert is not None and tree == "bootstrap":
            record["auth"] = "bootstrap"
        elif cert is not None and tree == "issuing" and self.server.behaviour.current()["enroll_with_issued"]:
            record["auth"] = "certificate"
        elif user is not None:
            record["auth"] = "basic:" + user
        elif cert is not None:
            raise HTTPError(403, "the TLS client certificate (%s) may not enroll; use a bootstrap "
                            "certificate or HTTP Basic" % tree, self.challenge())
        else:
            raise HTTPError(401, "authentication required: HTTP Basic or a bootstrap certificate",
                            self.challenge())

    # -- the operations

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        record = {"method": method, "path": self.path, "auth": "none", "time": time.time()}
        try:
            label, op = self.parse_path()
            record["op"], record["label"] = op, label
            want = "POST" if op in ENROLL_OPERATIONS else "GET"
            if method != want:
                raise HTTPError(405, "%s needs %s" % (op, want), {"Allow": want})
            body = self.read_body() if method == "POST" else b""
            delay = float(self.server.behaviour.current()["delay"] or 0)
            if delay > 0:
                time.sleep(delay)
            status, headers, payload = getattr(self, "op_" + op.replace("-", "_"))(body, record)
        except HTTPError as e:
            status, headers, payload = e.status, dict(e.headers), (e.message + "\n").encode()
            headers["Content-Type"] = "text/plain; charset=utf-8"
            record["error"] = e.message
        except Exception as e:  # an unexpected failure is the server's, and says so
            status, headers, payload = 500, {"Content-Type": "text/plain"}, ("%s\n" % e).encode()
            record["error"] = str(e)
            log("internal error: %r" % e)
        truncate = False
        if status == 200 and record.get("op"):
            ctype, truncate = self.server.behaviour.answer_faults(record["op"])
            if ctype:
                headers["Content-Type"] = ctype
                record["content_type"] = ctype
            if truncate:
                record["fault"] = "truncate"
        record["status"] = status
        self.server.events.write(record)
        self.send(status, payload, headers, truncate)

    def faulted(self, op, record):
        """A response the behaviour calls for instead of the real one, or None."""
        fault = self.server.behaviour.fault(op)
        if fault is None:
            return None
        record["fault"] = fault[0]
        if fault[0] == "retry":
            return 202, {"Retry-After": str(int(fault[1]))}, b""
        if fault[0] == "fail":
            return int(fault[1]), {"Content-Type": "text/plain"}, b"simulated failure\n"
        if fault[0] == "huge":
            # base64 characters all the way, so only the size is wrong at first sight
            return 200, pkcs7_headers(op), b"QUJD" * (int(fault[1]) * (1 << 18))
        garbage = {"text": b"<html>this is no PKCS#7</html>\n",
                   "base64": base64.encodebytes(b"\x30\x82\xff\xff not DER at all"),
                   "empty": b""}.get(fault[1], b"!!garbage!!\n")
        return 200, pkcs7_headers(op), garbage

    def op_cacerts(self, body, record):
        faulted = self.faulted("cacerts", record)
        if faulted:
            return faulted
        # §4.1.3: application/pkcs7-mime, base64 of the DER certs-only bundle
        return 200, pkcs7_headers("cacerts"), base64.encodebytes(self.server.ca.cacerts_der())

    def op_csrattrs(self, body, record):
        faulted = self.faulted("csrattrs", record)
        if faulted:
            return faulted
        if not self.server.csrattrs:
            # §4.5.2: no attributes to ask for
            return 204, {}, b""
        return 200, {"Content-Type": "application/csrattrs", "Content-Transfer-Encoding": "base64"}, \
            base64.encodebytes(csrattrs_der(self.server.csrattrs))

    def op_certkeeper_proof_nonce(self, body, record):
        if not self.server.proofs.enabled:
            raise HTTPError(404, "this server takes no attestation proofs")
        faulted = self.faulted("certkeeper-proof-nonce", record)
        if faulted:
            return faulted
        nonce = self.server.proofs.new_nonce()
        record["nonce"] = nonce
        return 200, {"Content-Type": "text/plain"}, (nonce + "\n").encode()

    def op_simpleenroll(self, body, record):
        return self.enroll("simpleenroll", body, record)

    def op_simplereenroll(self, body, record):
        return self.enroll("simplereenroll", body, record)

    def enroll(self, op, body, record):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/pkcs10":
            raise HTTPError(415, "the request must be application/pkcs10, not '%s'" % ctype)
        # §4.2.1 (and RFC 8951): the body is base64 of the DER CSR, nothing else
        try:
            csr_der = base64.b64decode(b"".join(body.split()), validate=True)
        except binascii.Error:
            raise HTTPError(400, "the request body is not base64")
        try:
            openssl("req", "-inform", "DER", "-noout", data=csr_der)
        except RuntimeError:
            raise HTTPError(400, "the request body is not a DER PKCS#10 CSR")
        self.authorise(op, csr_der, record)
        csr_pem = openssl("req", "-inform", "DER", data=csr_der)
        record["csr_text"] = openssl("req", "-noout", "-text", data=csr_pem).decode(errors="replace")
        if self.server.challenge is not None and csr_challenge(csr_pem) != self.server.challenge:
            raise HTTPError(403, "the CSR lacks the challengePassword this server wants")
        faulted = self.faulted(op, record)
        if faulted:
            return faulted
        try:
            p7 = self.server.ca.sign(csr_der, int(self.server.behaviour.current()["days"]))
        except (RuntimeError, ValueError) as e:
            raise HTTPError(400, "cannot issue a certificate for this CSR: %s" % e)
        record["subject"] = csr_names(openssl("req", "-inform", "DER", data=csr_der), "req")["subject"]
        # the enrollment registers the proof key it brings; a proof never replaces
        # the key it was checked against
        public_key = self.headers.get(HEADER_PROOF_PUBLIC_KEY)
        if public_key and record["auth"] != "proof" and self.server.proofs.enabled:
            self.server.proofs.register(record["subject"], public_key.strip())
            record["proof_key_registered"] = True
        return 200, pkcs7_headers(op), base64.encodebytes(p7)


def pkcs7_headers(op):
    ctype = "application/pkcs7-mime" if op == "cacerts" else "application/pkcs7-mime; smime-type=certs-only"
    if op == "csrattrs":
        ctype = "application/csrattrs"
    return {"Content-Type": ctype, "Content-Transfer-Encoding": "base64"}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a failed handshake (say, an untrusted client certificate) is the client's
        # problem: one line, no traceback
        log("connection from %s failed: %s" % (client_address[0], sys.exc_info()[1]))


def watch_parent(parent):
    """Exit when the process that started us goes away (a crashed test leaves nothing behind)."""
    try:
        # Linux: a SIGTERM the moment the parent dies; the polling below covers the rest
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)


def watch_parent_loop(parent):
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            log("parent exited; stopping")
            os._exit(0)


def main():
    parent = os.getppid()
    p = argparse.ArgumentParser(description="EST (RFC 7030) test server")
    p.add_argument("--dir", required=True, help="CA directory (created and filled when empty)")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: pick a free one)")
    p.add_argument("--label", action="append", default=[], help="accept this CA label (repeatable)")
    p.add_argument("--user", action="append", default=[], help="HTTP Basic USER:PASSWORD (repeatable)")
    p.add_argument("--realm", default="estrealm")
    p.add_argument("--no-bootstrap", action="store_true", help="do not accept bootstrap certificates")
    p.add_argument("--bootstrap-ca", help="PEM file of the CA whose certificates may enroll "
                   "(default: DIR/bootstrap-ca.pem, made at start-up)")
    p.add_argument("--no-proof", action="store_true",
                   help="take no attestation proofs (certkeeper-proof-nonce answers 404)")
    p.add_argument("--enroll-with-issued", action="store_true",
                   help="let a certificate of this CA authenticate simpleenroll too")
    p.add_argument("--csrattr", action="append", default=[], dest="csrattrs",
                   help="OID or OID=VALUE[+VALUE] served by /csrattrs (repeatable); a VALUE is "
                   "an OID, int:N or ext:OID:critical|noncritical:HEX")
    p.add_argument("--challenge", help="enroll only CSRs with this challengePassword")
    p.add_argument("--days", type=int, default=90, help="lifetime of issued certificates")
    p.add_argument("--retry-after", type=int, default=2, help="Retry-After seconds of 202 answers")
    p.add_argument("--retry-count", type=int, default=0, help="answer the first K enrolls with 202")
    p.add_argument("--fail-status", type=int, default=0, help="answer with this HTTP status (e.g. 503)")
    p.add_argument("--fail-count", type=int, default=0, help="... the first K times (0: always)")
    p.add_argument("--garbage", default="", help="answer 200 with a broken body: text, base64 or empty")
    p.add_argument("--delay", type=float, default=0, help="seconds to wait before every answer")
    p.add_argument("--content-type", default="", help="send this Content-Type with 200 answers")
    p.add_argument("--huge-body", type=int, default=0, help="answer 200 with a body of N MiB")
    p.add_argument("--truncate", action="store_true",
                   help="send only half of a 200 answer's body, then close")
    p.add_argument("--fault-ops", default="simpleenroll,simplereenroll",
                   help="operations the faults apply to (comma-separated, or all)")
    p.add_argument("--control", help="JSON file of run-time overrides, re-read at every request")
    p.add_argument("--log", help="append one JSON line per answered request here")
    args = p.parse_args()

    bootstrap_ca = os.path.abspath(args.bootstrap_ca) if args.bootstrap_ca else None
    ca = CA(os.path.abspath(args.dir), args.days, [bootstrap_ca] if bootstrap_ca else [])
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(ca.path("server-chain.pem"), ca.path("server.key"))
    # ask for a client certificate, but let HTTP Basic clients in without one;
    # a certificate that is sent must chain to one of our trees
    tls.verify_mode = ssl.CERT_OPTIONAL
    tls.load_verify_locations(ca.path("client-anchors.pem"))

    server = Server(("127.0.0.1", args.port), Handler)
    server.tls = tls
    server.ca = ca
    server.labels = set(args.label)
    server.users = set(tuple(u.split(":", 1)) for u in args.user if ":" in u)
    server.realm = args.realm
    # an absolute path stays what it is under CA.path()'s os.path.join
    server.bootstrap_anchor = None if args.no_bootstrap else (bootstrap_ca or "bootstrap-ca.pem")
    server.csrattrs = args.csrattrs
    server.proofs = Proofs(os.path.abspath(args.dir), not args.no_proof)
    server.challenge = args.challenge
    server.behaviour = Behaviour(args)
    server.events = EventLog(args.log)

    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    watch_parent(parent)
    threading.Thread(target=watch_parent_loop, args=(parent,), daemon=True).start()
    print("READY port=%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
