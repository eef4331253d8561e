"""Words of messages, as the search index keys them: accent- and case-insensitive (Spanish and
English alike: NFKD, combining marks dropped, casefolded), so "Sincronización" and
"sincronizacion" are one token. A light plural stemming folds "terminales"/"terminal" and
"licenses"/"license"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MIN_TOKEN_CHARS = 2
MAX_TOKEN_CHARS = 40
MAX_QUERY_TOKENS = 8
SNIPPET_CHARS = 240
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Without accents and case: `Sincronización` → `sincronizacion`, `ñ` → `n`, `ß` → `ss`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def stem(token: str) -> str:
    """A light plural fold, the same for the indexed words and the asked ones."""
    if len(token) > 5 and token.endswith("es"):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    token: str


def words(text: str) -> list[Word]:
    """Each word of `text` with its character offsets in `text` and its token."""
    found: list[Word] = []
    for match in _WORD.finditer(text):
        token = stem(fold(match.group()))
        if MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS:
            found.append(Word(match.start(), match.end(), token))
    return found


def tokens(text: str) -> set[str]:
    """The distinct tokens of a text: what a message is indexed under."""
    return {word.token for word in words(text)}


def prefixes(text: str) -> set[str]:
    """Every token of a text and each of its prefixes of at least MIN_TOKEN_CHARS characters."""
    found: set[str] = set()
    for word in words(text):
        folded = fold(text[word.start : word.end])
        for token in (word.token, folded):
            found.update(token[:n] for n in range(MIN_TOKEN_CHARS, len(token) + 1))
    return found


def query_tokens(q: str) -> list[str]:
    """The asked tokens, distinct, in the order asked (at most MAX_QUERY_TOKENS)."""
    seen: list[str] = []
    for word in words(q):
        if word.token not in seen:
            seen.append(word.token)
    return seen[:MAX_QUERY_TOKENS]


def matches(text: str, asked: Iterable[str]) -> bool:
    """Every asked token is a word of the text (prefix of its last one)."""
    asked = list(asked)
    have = tokens(text)
    return all(token in have for token in asked)


def snippet(text: str, asked: Iterable[str], *, chars: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """At most `chars` characters around the first matched word, and the offsets of every
    matched word inside the snippet."""
    wanted = set(asked)
    hits = [w for w in words(text) if w.token in wanted]
    start = 0
    if hits and len(text) > chars:
        start = max(0, min(hits[0].start - chars // 3, len(text) - chars))
    end = min(len(text), start + chars)
    shown = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    if prefix:
        shown = shown[1:]
        start += 1
    if suffix:
        shown = shown[:-1]
        end -= 1
    offset = len(prefix) - start
    highlights = [(w.start + offset, w.end + offset) for w in hits if w.start >= start and w.end <= end]
    return prefix + shown + suffix, highlights
