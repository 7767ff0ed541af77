"""Telling "the vendor could not be reached" apart from every other vendor failure.

Vendor clients wrap the socket error in their own (requests, urllib3, curl_cffi, ccxt), and
some swallow it and fail later with an unrelated error (yfinance, offline, raises a
``TypeError``), having logged the real cause. So both the exception chain and the vendor's
log records captured during the call are read: the first sign of an unresolvable host, a
refused connection or a time-out names the failure. While a call runs, the vendor loggers'
records are kept (not printed), so a user sees one error line, not the library's chatter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

DNS, REFUSED, TIMEOUT = "DNS lookup failed", "connection refused", "timed out"

# Wrapper types whose name says what happened, across the vendor clients' own exceptions.
TYPE_NAMES = {
    "gaierror": DNS, "NameResolutionError": DNS, "DNSError": DNS,
    "ConnectionRefusedError": REFUSED,
    "TimeoutError": TIMEOUT, "timeout": TIMEOUT, "ConnectTimeout": TIMEOUT,
    "ReadTimeout": TIMEOUT, "ConnectTimeoutError": TIMEOUT, "RequestTimeout": TIMEOUT,
}
# The same in messages (curl, urllib3, aiohttp, the C library), for errors known by text only.
PATTERNS = (
    (DNS, re.compile(r"could not resolve host|name or service not known|failed to resolve|"
                     r"temporary failure in name resolution|nodename nor servname|"
                     r"getaddrinfo failed|no address associated", re.IGNORECASE)),
    (REFUSED, re.compile(r"connection refused|econnrefused|actively refused", re.IGNORECASE)),
    (TIMEOUT, re.compile(r"timed out|timeout was reached", re.IGNORECASE)),
)
HOST = re.compile(r"resolve host:? '?([\w.-]+)|host='([\w.-]+)', port=(\d+)|resolve '([\w.-]+)'")


def chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and every exception it was raised from or during, each once."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def unreachable(error: BaseException, heard: list[str] = ()) -> str | None:
    """``"<what happened> for <host>"`` when ``error`` (or the vendor's log lines ``heard``
    during the call) shows that the vendor's host could not be reached, else None.

    The most specific sign wins: urllib3's refused connection is also a "connect time-out" by
    class, so a DNS failure or a refusal anywhere in the chain beats a time-out.
    """
    links = list(chain(error))
    texts = [str(link) for link in links] + list(heard)
    kinds = {TYPE_NAMES[cls.__name__] for link in links for cls in type(link).__mro__
             if cls.__name__ in TYPE_NAMES}
    kinds |= {kind for kind, pattern in PATTERNS if any(pattern.search(t) for t in texts)}
    for kind in (DNS, REFUSED, TIMEOUT):
        if kind in kinds:
            return describe(kind, texts)
    return None


def describe(kind: str, texts: list[str]) -> str:
    """The kind of failure, with the host (and port) when a message names it."""
    for text in texts:
        if found := HOST.search(text):
            host = next(group for group in (found[1], found[2], found[4]) if group).rstrip(".")
            return f"{kind} for {host}:{found[3]}" if found[3] else f"{kind} for {host}"
    return kind


@contextmanager
def quiet_vendor(names: tuple[str, ...]) -> Iterator[list[str]]:
    """Inside the block the vendor loggers ``names`` print nothing; their messages (and any
    exception they logged) are collected in the yielded list."""
    heard: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            heard.append(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                heard.extend(str(link) for link in chain(record.exc_info[1]))

    handler = Collect(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in names]
    saved = [(logger.propagate, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False  # nothing reaches the root handlers or stderr
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield heard
    finally:
        for logger, (propagate, level) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.propagate, logger.level = propagate, level
