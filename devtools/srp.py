"""Cognito's flavour of SRP-6a (USER_SRP_AUTH), both sides, in pure Python (dev only, never deployed).

Amplify v5's `Auth.signIn` proves the password with SRP instead of sending it. The local user pool
(devtools.localcognito) plays Cognito's side, and the test harness and `make token` play the
browser's, so both must compute exactly what amazon-cognito-identity-js computes:

    N, g     the 3072-bit group of RFC 5054 (no. 15), g = 2;  k = H(pad(N) | pad(g))
    x        H(pad(salt) | H(pool_name | username | ":" | password))   (pool_name: the id after "_")
    A = g^a,  B = k*v + g^b,  u = H(pad(A) | pad(B)),  v = g^x
    S        client: (B - k*g^x)^(a + u*x);  server: (A * v^u)^b          (all mod N)
    key      HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key")[:16]
    proof    base64 HMAC-SHA256(key, pool_name | username | secret_block | timestamp)

`pad` is Cognito's hex padding (even length, and a leading 00 when the first digit is 8-f), and H
hashes the bytes a hex string stands for (or, for the username/password part, the UTF-8 text).

The secret exponents a and b are 256 random bits (a browser uses 1024 for a): the short-exponent
form of SRP keeps a 128-bit security level and makes a sign-in here ~4x cheaper, which the test
suite, signing in hundreds of users, notices. The server keeps one salt and verifier per user and
password, as Cognito does.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE"
    "386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F8365"
    "5D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E77"
    "2C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A"
    "8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB"
    "0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A61"
    "5D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
_INFO = b"Caldera Derived Key\x01"
EXPONENT_BITS = 256


def pad_hex(value: int | str) -> str:
    """Cognito's hex form of a non-negative integer: even length, never reading as negative."""
    digits = value if isinstance(value, str) else format(value, "x")
    if len(digits) % 2:
        return "0" + digits
    if digits[0] in "89abcdefABCDEF":
        return "00" + digits
    return digits


def _hash_hex(hex_string: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_string)).hexdigest()


def _hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


K = int(_hash_hex(pad_hex(N) + pad_hex(G)), 16)


def pool_name(user_pool_id: str) -> str:
    """The part of `us-east-1_AbC123` that goes into SRP's hashes."""
    return user_pool_id.split("_", 1)[1]


def _x(pool: str, username: str, password: str, salt_hex: str) -> int:
    return int(_hash_hex(pad_hex(salt_hex) + _hash_text(f"{pool}{username}:{password}")), 16)


def _u(big_a: int, big_b: int) -> int:
    return int(_hash_hex(pad_hex(big_a) + pad_hex(big_b)), 16)


def _session_key(s_value: int, u_value: int) -> bytes:
    prk = hmac.new(bytes.fromhex(pad_hex(u_value)), bytes.fromhex(pad_hex(s_value)), hashlib.sha256).digest()
    return hmac.new(prk, _INFO, hashlib.sha256).digest()[:16]


def _signature(key: bytes, pool: str, username: str, secret_block_b64: str, timestamp: str) -> str:
    message = pool.encode() + username.encode() + base64.b64decode(secret_block_b64) + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def timestamp_now(now: datetime | None = None) -> str:
    """Cognito's TIMESTAMP: `Tue Dec 3 08:16:05 UTC 2026` (day of month not zero-padded)."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%a %b ") + str(moment.day) + moment.strftime(" %H:%M:%S UTC %Y")


_TIMESTAMP = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"([1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] UTC [0-9]{4}$")


def valid_timestamp(timestamp: str) -> bool:
    return bool(_TIMESTAMP.match(timestamp))


# -- the browser's side -----------------------------------------------------------------------------
class SrpClient:
    """What amazon-cognito-identity-js does between InitiateAuth and RespondToAuthChallenge."""

    def __init__(self, user_pool_id: str, password: str) -> None:
        self._pool = pool_name(user_pool_id)
        self._password = password
        while True:
            self._a = secrets.randbits(EXPONENT_BITS)
            self.big_a = pow(G, self._a, N)
            if self._a and self.big_a % N:
                break

    @property
    def srp_a(self) -> str:
        """AuthParameters.SRP_A."""
        return format(self.big_a, "x")

    def challenge_responses(self, parameters: dict[str, str], timestamp: str | None = None) -> dict[str, str]:
        """ChallengeResponses for PASSWORD_VERIFIER, from its ChallengeParameters."""
        username = parameters["USER_ID_FOR_SRP"]
        big_b = int(parameters["SRP_B"], 16)
        if big_b % N == 0:
            raise ValueError("the server's SRP_B is 0 mod N")
        u_value = _u(self.big_a, big_b)
        if u_value == 0:
            raise ValueError("SRP u is 0")
        x_value = _x(self._pool, username, self._password, format(int(parameters["SALT"], 16), "x"))
        s_value = pow(big_b - K * pow(G, x_value, N), self._a + u_value * x_value, N)
        key = _session_key(s_value, u_value)
        stamp = timestamp or timestamp_now()
        return {
            "USERNAME": username,
            "PASSWORD_CLAIM_SECRET_BLOCK": parameters["SECRET_BLOCK"],
            "TIMESTAMP": stamp,
            "PASSWORD_CLAIM_SIGNATURE": _signature(key, self._pool, username, parameters["SECRET_BLOCK"], stamp),
        }


# -- Cognito's side ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SrpChallenge:
    """Server state between InitiateAuth and RespondToAuthChallenge: everything to check the proof."""

    user_pool_id: str
    username: str
    salt_hex: str
    big_a: int
    big_b: int
    key: bytes
    secret_block: str

    def parameters(self) -> dict[str, str]:
        """ChallengeParameters of the PASSWORD_VERIFIER challenge."""
        return {"SALT": self.salt_hex, "SRP_B": format(self.big_b, "x"), "USERNAME": self.username,
                "USER_ID_FOR_SRP": self.username, "SECRET_BLOCK": self.secret_block}

    def verify(self, username: str, secret_block: str, timestamp: str, signature: str) -> bool:
        """The client's PASSWORD_CLAIM_SIGNATURE proves it knew the password: constant-time check."""
        if username != self.username or secret_block != self.secret_block or not valid_timestamp(timestamp):
            return False
        expected = _signature(self.key, pool_name(self.user_pool_id), self.username, self.secret_block, timestamp)
        return hmac.compare_digest(expected.encode(), signature.encode())


_verifiers: dict[tuple[str, str, str], tuple[str, int]] = {}
_verifiers_lock = threading.Lock()


def _verifier(user_pool_id: str, username: str, password: str) -> tuple[str, int]:
    """(salt, verifier) of a user's password: made once, as Cognito makes them when a password is set."""
    key = (user_pool_id, username, hashlib.sha256(password.encode()).hexdigest())
    with _verifiers_lock:
        known = _verifiers.get(key)
    if known is None:
        # A salt whose hex has no leading zero and does not start with 8-f: the browser parses SALT as a
        # number and pads it again, so any other form would hash differently on the two sides.
        salt_hex = format(secrets.randbits(124) | (1 << 124), "x")  # 32 hex digits starting with "1"
        known = (salt_hex, pow(G, _x(pool_name(user_pool_id), username, password, salt_hex), N))
        with _verifiers_lock:
            _verifiers[key] = known
    return known


def server_challenge(user_pool_id: str, username: str, password: str, srp_a_hex: str) -> SrpChallenge:
    """Cognito's answer to USER_SRP_AUTH for a user whose password the emulator knows.

    Raises ValueError for an SRP_A that is 0 mod N (Cognito refuses it too)."""
    try:
        big_a = int(srp_a_hex, 16)
    except ValueError:
        raise ValueError("SRP_A is not a hexadecimal number") from None
    if big_a % N == 0:
        raise ValueError("SRP_A is 0 mod N")
    salt_hex, verifier = _verifier(user_pool_id, username, password)
    while True:
        b_value = secrets.randbits(EXPONENT_BITS)
        big_b = (K * verifier + pow(G, b_value, N)) % N
        if big_b and _u(big_a, big_b):
            break
    u_value = _u(big_a, big_b)
    s_value = pow(big_a * pow(verifier, u_value, N), b_value, N)
    secret_block = base64.b64encode(secrets.token_bytes(64)).decode()
    return SrpChallenge(user_pool_id, username, salt_hex, big_a, big_b, _session_key(s_value, u_value), secret_block)
