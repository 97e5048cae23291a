#!/usr/bin/env python3
"""Regenerates the bad-input corpus under tests/corpus/ (see README.md).

The bytes are written by hand (a ten-line protobuf encoder below), not by
the library's own encoder, so the corpus also covers inputs our encoder can
never produce: unknown oneof fields, unknown enum values, broken varints.
Run from anywhere: python3 tests/corpus/make_corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def vint(field, n):  # wire type 0
    return key(field, 0) + varint(n)


def ld(field, data):  # wire type 2 (bytes, string, sub-message)
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


NONCE = bytes(range(32))
PROOF = bytes([0xAB]) * 32


def hello(versions=(1,), nonce=NONCE, operation=1):
    body = b"".join(vint(1, v) for v in versions) + ld(2, nonce)
    if operation:
        body += vint(3, operation)
    return ld(1, body)  # ClientMessage.hello = 1


def enroll(device="dev-1", cls="class-a", csr=b"\x30\x00", proof=PROOF):
    return ld(2, ld(1, device) + ld(2, cls) + ld(3, csr) + ld(4, proof))


def renew(device="dev-1", cert=b"\x30\x00", csr=b"\x30\x00", sig=b"\x30\x00"):
    return ld(3, ld(1, device) + ld(2, cert) + ld(3, csr) + ld(4, sig))


def install(status=0, serial=b"\x01\x02"):
    body = (vint(1, status) if status else b"") + ld(2, serial)
    return ld(4, body)


def server_hello(nonce=NONCE, domain="example.test", chain=(), algs=(1,)):
    body = vint(1, 1) + ld(2, nonce) + ld(3, domain)
    body += b"".join(ld(4, c) for c in chain)
    body += b"".join(vint(5, a) for a in algs)
    body += vint(6, 60) + vint(7, 65536)
    return ld(1, body)  # ServerMessage.hello = 1


def answer(result=b"", request_id="0011223344556677"):
    return ld(2, ld(1, request_id) + result)


GARBAGE = b"\xff" * 11  # a tag varint that never ends: not protobuf

FRAMES = {
    "zero_length.bin": b"\x00\x00\x00\x00",
    "oversize_header.bin": struct.pack(">I", 64 * 1024 + 1) + b"A" * 16,
    "max_u32_header.bin": b"\xff\xff\xff\xff",
    "truncated_header.bin": b"\x00\x00\x00",
    "truncated_payload.bin": struct.pack(">I", 32) + b"\x0a" * 10,
    "garbage_payload.bin": frame(GARBAGE),
    "two_frames.bin": frame(hello()) + frame(enroll()),
    "zero_after_frame.bin": frame(hello()) + b"\x00\x00\x00\x00",
}

CLIENT = {
    "hello_valid.bin": hello(),
    "enroll_valid.bin": enroll(),
    "renew_valid.bin": renew(),
    "install_valid.bin": install(),
    "garbage.bin": GARBAGE,
    "truncated_enroll.bin": enroll()[:-5],
    "empty.bin": b"",
    "unknown_oneof.bin": ld(9, b"hi"),
    "unknown_oneof_varint.bin": vint(15, 1),
    "bad_enum.bin": hello(operation=7),
    "hello_no_operation.bin": hello(operation=0),
    "hello_no_versions.bin": hello(versions=()),
    "hello_nine_versions.bin": hello(versions=range(1, 10)),
    "hello_nonce_31.bin": hello(nonce=NONCE[:31]),
    "hello_nonce_33.bin": hello(nonce=NONCE + b"\x20"),
    "enroll_csr_8193.bin": enroll(csr=b"\x30" * 8193),
    "enroll_empty_csr.bin": enroll(csr=b""),
    "enroll_proof_31.bin": enroll(proof=PROOF[:31]),
    "enroll_proof_33.bin": enroll(proof=PROOF + b"\x00"),
    "enroll_device_id_257.bin": enroll(device="d" * 257),
    "enroll_class_id_257.bin": enroll(cls="c" * 257),
    "enroll_bad_utf8_device_id.bin": enroll(device=b"dev\xc3\x28"),
    "renew_empty_certificate.bin": renew(cert=b""),
    "renew_empty_signature.bin": renew(sig=b""),
    "renew_signature_513.bin": renew(sig=b"\x01" * 513),
    "install_unknown_status.bin": install(status=4),
    "install_empty_serial.bin": install(serial=b""),
    "install_serial_21.bin": install(serial=b"\x01" * 21),
}

SERVER = {
    "hello_valid.bin": server_hello(),
    "hello_unknown_algorithm.bin": server_hello(algs=(1, 9, 2)),
    "garbage.bin": GARBAGE,
    "empty.bin": b"",
    "unknown_oneof.bin": ld(9, b"hi"),
    "hello_nonce_31.bin": server_hello(nonce=NONCE[:31]),
    "hello_empty_domain.bin": server_hello(domain=""),
    "hello_domain_254.bin": server_hello(domain="d" * 254),
    "hello_five_ca.bin": server_hello(chain=[b"\x30\x00"] * 5),
    "answer_no_result.bin": answer(),
    "answer_unknown_result.bin": answer(ld(9, b"")),
    "answer_request_id_65.bin": answer(ld(4, vint(1, 5)), request_id="r" * 65),
    "rejected_unknown_code.bin": answer(ld(3, vint(1, 999) + ld(2, "no"))),
    "issued_five_chain.bin": answer(ld(2, ld(1, b"\x30\x00") + b"".join(ld(2, b"\x30\x00") for _ in range(5)))),
    "redirect_empty_server.bin": answer(ld(5, ld(2, "other.test"))),
    "error_message_1025.bin": ld(4, vint(1, 103) + ld(2, "m" * 1025)),
}


def write(sub, files):
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("frames", FRAMES)
    write("client", CLIENT)
    write("server", SERVER)
