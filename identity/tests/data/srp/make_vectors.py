#!/usr/bin/env python3
"""Writes vectors.json: SRP values as pycognito (an independent implementation of Cognito's
SRP-6a variant) computes them, for the Rust unit tests of identity/src/srp.rs.

Run once with pycognito installed (`.venv/bin/python identity/tests/data/srp/make_vectors.py`);
the output is deterministic: every random value (the client's `a`, the server's `b`, salts,
device passwords) is fixed below or drawn from a seeded generator.
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import random

import pycognito
from pycognito import aws_srp
from pycognito.aws_srp import (AWSSRP, G_HEX, N_HEX, calculate_u, compute_hkdf,
                               hash_sha256, hex_hash, hex_to_long, long_to_hex, pad_hex)

rng = random.Random(20261202)
N = hex_to_long(N_HEX)
g = hex_to_long(G_HEX)


def fixed_bytes(n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def client(pool_id, username, password, small_a):
    srp = AWSSRP(username, password, pool_id, "client", client=object())
    srp.small_a_value = small_a
    srp.large_a_value = srp.calculate_a()
    return srp


def user_case(name, pool_id, user_id, password, salt_hex, small_a, small_b, secret_block, timestamp):
    srp = client(pool_id, user_id, password, small_a)
    k = srp.val_k
    # The verifier the server stores: v = g^x, x = H(pad(salt) | H(poolName | userId ":" password)).
    pool_name = pool_id.split("_")[1]
    x = hex_to_long(hex_hash(pad_hex(salt_hex) + hash_sha256(f"{pool_name}{user_id}:{password}".encode())))
    v = pow(g, x, N)
    big_b = (k * v + pow(g, small_b, N)) % N
    # What the client derives from the server's B and salt, with pycognito's own code.
    key = srp.get_password_authentication_key(user_id, password, big_b, salt_hex)
    msg = pool_name.encode() + user_id.encode() + secret_block + timestamp.encode()
    signature = base64.standard_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return {
        "name": name,
        "pool_id": pool_id,
        "user_id": user_id,
        "password": password,
        "salt": salt_hex,
        "x": long_to_hex(x),
        "verifier": long_to_hex(v),
        "small_a": long_to_hex(small_a),
        "srp_a": long_to_hex(srp.large_a_value),
        "small_b": long_to_hex(small_b),
        "srp_b": long_to_hex(big_b),
        "u": long_to_hex(calculate_u(srp.large_a_value, big_b)),
        "hkdf": key.hex(),
        "secret_block": base64.standard_b64encode(secret_block).decode(),
        "timestamp": timestamp,
        "signature": signature,
    }


def device_case(name, group_key, device_key, small_a, small_b, secret_block, timestamp):
    # pycognito's generate_hash_device draws its password and salt from os.urandom: feed it
    # fixed bytes so the verifier can be recomputed.
    saved = aws_srp.os.urandom
    aws_srp.os.urandom = fixed_bytes
    try:
        password, config = aws_srp.generate_hash_device(group_key, device_key)
    finally:
        aws_srp.os.urandom = saved
    salt_hex = base64.standard_b64decode(config["Salt"]).hex()
    v = int.from_bytes(base64.standard_b64decode(config["PasswordVerifier"]), "big")
    srp = AWSSRP("user", "pw", "us-east-1_Pool", "client", client=object(),
                 device_key=device_key, device_group_key=group_key, device_password=password)
    srp.small_a_value = small_a
    srp.large_a_value = srp.calculate_a()
    big_b = (srp.val_k * v + pow(g, small_b, N)) % N
    key = srp.get_device_authentication_key(group_key, device_key, password, big_b, salt_hex)
    msg = group_key.encode() + device_key.encode() + secret_block + timestamp.encode()
    signature = base64.standard_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return {
        "name": name,
        "device_group_key": group_key,
        "device_key": device_key,
        "device_password": password,
        "salt_base64": config["Salt"],
        "verifier_base64": config["PasswordVerifier"],
        "small_a": long_to_hex(small_a),
        "srp_a": long_to_hex(srp.large_a_value),
        "small_b": long_to_hex(small_b),
        "srp_b": long_to_hex(big_b),
        "hkdf": key.hex(),
        "secret_block": base64.standard_b64encode(secret_block).decode(),
        "timestamp": timestamp,
        "signature": signature,
    }


def timestamps():
    out = []
    for when in [datetime.datetime(2026, 12, 2, 5, 22, 58), datetime.datetime(2024, 2, 29, 23, 59, 9),
                 datetime.datetime(2027, 1, 17, 0, 0, 0), datetime.datetime(2025, 10, 5, 12, 3, 4)]:
        out.append({"unix": int(when.replace(tzinfo=datetime.timezone.utc).timestamp()),
                    "text": AWSSRP.get_cognito_formatted_timestamp(when)})
    return out


def main():
    k = hex_to_long(hex_hash("00" + N_HEX + "0" + G_HEX))
    users = [
        user_case("a plain username", "us-east-1_AbCdEf123", "alice", "Passw0rd!",
                  "1f2e3d4c5b6a79881f2e3d4c5b6a7988", rng.getrandbits(1024) % N, rng.getrandbits(256),
                  fixed_bytes(120), "Wed Dec 2 05:22:58 UTC 2026"),
        user_case("a salt with its high bit set and a non-ASCII password", "eu-west-1_Zz9",
                  "0b6e5f9a-8c1d-4e2f-9a3b-7c6d5e4f3a2b", "pässwörd-€-12", "c0ffee00112233445566778899aabbcc",
                  rng.getrandbits(1024) % N, rng.getrandbits(256), fixed_bytes(64),
                  "Thu Feb 29 23:59:09 UTC 2024"),
        user_case("a salt whose first nibble is zero", "us-west-2_x", "Bob.Smith@example.com", "S3cret pass",
                  "0abcdef0123456789abcdef012345678", rng.getrandbits(1024) % N, rng.getrandbits(256),
                  fixed_bytes(32), "Sun Jan 17 00:00:00 UTC 2027"),
    ]
    devices = [
        device_case("a remembered device", "-Ab12CdEf", "us-east-1_4f1c2d3e-aaaa-bbbb-cccc-0123456789ab",
                    rng.getrandbits(1024) % N, rng.getrandbits(256), fixed_bytes(80),
                    "Sun Oct 5 12:03:04 UTC 2025"),
    ]
    out = {
        "source": f"pycognito {pycognito.__version__ if hasattr(pycognito, '__version__') else ''}".strip(),
        "k": long_to_hex(k),
        "users": users,
        "devices": devices,
        "timestamps": timestamps(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
