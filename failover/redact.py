"""Secrets out of text: `redact` for everything the library writes, `RedactingFilter` for logs.

What is masked (each value becomes ``***``; the name stays, so the text still says
what was there):

* userinfo in URLs: ``http://user:password@host`` -> ``http://***@host``;
* header values: ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``,
  in ``Name: value`` lines and in dict reprs (``'Authorization': b'AWS4-HMAC-SHA256 ...'``);
* ``Bearer <token>`` wherever it appears;
* any ``name=value`` or ``name: value`` whose name ends in password, passwd, pwd, secret,
  token, signature, sig, credential, accountkey, sharedaccesskey, access_key(_id),
  private_key or api_key, in any case and with any prefix: SAS signatures (``sig=``),
  ``AccountKey=`` in connection strings, ``X-Amz-Security-Token``, ``X-Amz-Signature``,
  ``X-Amz-Credential``, ``X-Goog-Signature``, ``aws_secret_access_key``,
  ``client_secret``, ``access_token``, ``password=``, JSON ``"private_key": "..."``;
* ``key=`` and ``code=`` as query parameters (``?key=``: Google API keys; ``?code=``:
  Azure Functions keys), and a BIND ``secret "...";`` clause (TSIG keys).

`redact` runs on error paths and status only: `failover.errors.FailoverError` redacts its
message when it is built, `status()` its last errors, `LoggingListener` each event's
text.  A successful call never calls it.

botocore logs whole signed requests at DEBUG (``Sending http request: <AWSPreparedRequest
... headers={... 'X-Amz-Security-Token': b'...', 'Authorization': b'...'}>``, and the
canonical request with ``x-amz-security-token:...``).  The library cannot change what
botocore logs; add `RedactingFilter` to the handler that writes those records::

    handler.addFilter(RedactingFilter())
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# Text is lowered once and searched with `in` (C speed); each rule's regex runs only
# when its trigger is present, so a message without secrets costs about a microsecond.
_USERINFO = re.compile(r"://[^/?#\s@]*(?:@[^/?#\s@]*)*@")
_HEADER = re.compile(
    r"\b((?:proxy-)?authorization|set-cookie|cookie)(['\"]?\s*[:=]\s*)(?:(b?['\"])[^'\"\r\n]*['\"]?|[^\r\n]*)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(bearer\s+)[\w.~+/=-]+", re.IGNORECASE)
_BIND_SECRET = re.compile(r"\b(secret\s+)\"[^\"]*\"", re.IGNORECASE)
# The end of a secret-looking name and its separator, found in the lowered text.
_NAME_END = re.compile(
    r"(?:passw(?:or)?d|pwd|secret|token|sig(?:nature)?|credential|key(?:[-_]?id)?|code)(?=['\"]?\s*[:=])"
)
_SEPARATOR = re.compile(r"['\"]?\s*[:=]\s*")
# The whole name must end in a secret word; ``key`` and ``code`` count only as query parameters.
_SECRET_NAME = re.compile(
    r"[\w.-]*(?:passw(?:or)?d|pwd|secret|token|sig(?:nature)?|credential"
    r"|(?:account|sharedaccess|access[-_]?|private[-_]?|api[-_]?)key(?:[-_]?id)?)"
)
_VALUE = re.compile(r"(b?['\"])[^'\"\r\n]*['\"]?|[^\s&;,'\"<>)}\]]+")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_NAME_TRIGGERS = ("passw", "pwd", "secret", "token", "sig", "credential", "key", "code")
_QUERY_ONLY = frozenset({"key", "code"})


def _quoted(match: re.Match[str], group: int) -> str:
    quote = match.group(group)
    return f"{quote}{MASK}{quote[-1]}" if quote else MASK


def _names(text: str, lower: str) -> str:
    """Mask the values of ``name=value`` / ``name: value`` pairs with secret names."""
    pieces: list[str] = []
    done = 0
    for end in _NAME_END.finditer(lower):
        start = end.start()
        while start > 0 and lower[start - 1] in _NAME_CHARS:
            start -= 1
        if start < done:
            continue
        name = lower[start : end.end()]
        if name in _QUERY_ONLY:
            if not (start > 0 and lower[start - 1] in "?&"):
                continue
        elif not _SECRET_NAME.fullmatch(name):
            continue
        separator = _SEPARATOR.match(lower, end.end())
        value = _VALUE.match(text, separator.end()) if separator else None
        if value is None:
            continue
        pieces += (text[done : value.start()], _quoted(value, 1))
        done = value.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def redact(text: str) -> str:
    """``text`` with credentials masked (see the module docstring for what counts)."""
    lower = text.lower()
    if "://" in lower and "@" in lower:
        text = _USERINFO.sub("://" + MASK + "@", text)
    if "authorization" in lower or "cookie" in lower:
        text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + _quoted(m, 3), text)
    if "bearer" in lower:
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    if any(word in lower for word in _NAME_TRIGGERS):
        lower = text.lower()
        if len(lower) == len(text):  # a few characters (the dotted capital I) lower to two
            text = _names(text, lower)
        else:
            text = _names(text, text.encode("ascii", "replace").decode("ascii").lower())
        if "secret" in lower:
            text = _BIND_SECRET.sub(lambda m: m.group(1) + f'"{MASK}"', text)
    return text


class RedactingFilter(logging.Filter):
    """A `logging.Filter` that redacts each record's message, arguments and traceback.

    The message is formatted with its arguments, redacted, and stored back as
    ``record.msg`` with no arguments, so every handler after this filter sees only the
    redacted text.  A traceback is formatted once here and redacted into
    ``record.exc_text``, which `logging.Formatter` prints instead of formatting it again.
    Records are never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: leave them to the handler
            message = None
        if message is not None:
            record.msg = redact(message)
            record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


__all__ = ["MASK", "RedactingFilter", "redact"]
