"""RE2 patterns (TensorFlow's regex_replace) as JavaScript regexes that match the same."""

from __future__ import annotations

import re

# --- RE2 → JavaScript -------------------------------------------------------------------
# TensorFlow's regex_replace is RE2 on UTF-8 text; preprocess.js runs JavaScript's RegExp
# with the "u" flag (code points, as RE2). The two agree on the subset translated here;
# anything else raises ValueError. Differences handled: RE2 allows escaping any
# punctuation (JS with "u" does not: \# is a SyntaxError), "." and \s, \d, \w are ASCII
# or exclude \n in RE2 and are spelled out, and RE2's "$" is the end of the text only.

_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_CONTROL = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_CLASS_ESCAPES = {"d": [("0", "9")], "w": [("0", "9"), ("A", "Z"), ("a", "z"), ("_", "_")],
                  "s": [("\t", "\n"), ("\f", "\r"), (" ", " ")]}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")


_JS_SYNTAX = frozenset("^$\\.*+?()[]{}|/")  # what a "u" regex lets (and needs) escaped


def _lit(char: str, in_class: bool = False) -> str:
    """One code point as a JavaScript ("u" flag) regex atom that means only itself."""
    if char in _JS_SYNTAX or (in_class and char == "-"):
        return "\\" + char
    if char.isprintable():
        return char
    return f"\\u{{{ord(char):x}}}"  # controls, tabs, newlines: readable in metadata.json


def _class_source(members: list[tuple[str, str]], negated: bool) -> str:
    body = "".join(_lit(a, True) if a == b else f"{_lit(a, True)}-{_lit(b, True)}"
                   for a, b in members)
    return f"[{'^' if negated else ''}{body}]"


def re2_to_js(pattern: str) -> tuple[str, bool]:
    """(JavaScript source for RegExp(source, "u"), whether it can match the empty string).

    Raises ValueError naming what is outside the subset both engines agree on.
    """
    parser = _Re2(pattern)
    source, nullable = parser.alternation()
    if parser.at < len(pattern):
        raise ValueError(f"unbalanced ')' at {parser.at}")
    return source, nullable


class _Re2:
    """A recursive-descent reader of the RE2 subset, writing JavaScript as it goes."""

    def __init__(self, pattern: str) -> None:
        self.text, self.at, self.groups = pattern, 0, 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise ValueError("the pattern ends inside an escape, class or group")
        self.at += 1
        return char

    def alternation(self) -> tuple[str, bool]:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            branches.append(self.sequence())
        return "|".join(s for s, _ in branches), any(n for _, n in branches)

    def sequence(self) -> tuple[str, bool]:
        out, nullable = [], True
        while self.peek() and self.peek() not in "|)":
            atom, atom_nullable = self.atom()
            atom, atom_nullable = self.quantified(atom, atom_nullable)
            out.append(atom)
            nullable = nullable and atom_nullable
        return "".join(out), nullable

    def quantified(self, atom: str, nullable: bool) -> tuple[str, bool]:
        char = self.peek()
        if char in ("*", "+", "?"):
            self.at += 1
            quantifier, nullable = char, nullable or char != "+"
        elif char == "{" and (found := _REPEAT.match(self.text, self.at)):
            low = int(found.group(1))
            high = found.group(3)
            if low > 1000 or (high and int(high) > 1000):
                raise ValueError("a repetition above 1000 (RE2's limit)")
            self.at = found.end()
            quantifier, nullable = found.group(0), nullable or low == 0
        else:
            return atom, nullable
        lazy = ""
        if self.peek() == "?":
            self.at += 1
            lazy = "?"
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and _REPEAT.match(self.text,
                                                                             self.at)):
            raise ValueError(f"a repeated repetition at {self.at}")  # RE2 rejects a**
        return f"(?:{atom}){quantifier}{lazy}", nullable

    def atom(self) -> tuple[str, bool]:
        char = self.take()
        if char == "(":
            return self.group()
        if char == "[":
            return self.char_class(), False
        if char == ".":
            return "[^\\n]", False  # RE2's "." never matches \n; JavaScript's also skips \r
        if char == "^":
            return "^", True  # the start of the text (no multi-line flag in either)
        if char == "$":
            return "$", True  # the end of the text: RE2's "$" is never before a final \n
        if char == "\\":
            return self.escape()
        if char in "*+?":
            raise ValueError(f"'{char}' with nothing to repeat at {self.at - 1}")
        return _lit(char), False

    def group(self) -> tuple[str, bool]:
        if self.peek() == "?":
            if self.text.startswith("?:", self.at):
                self.at += 2
                inner, nullable = self.alternation()
                self.close()
                return f"(?:{inner})", nullable
            raise ValueError(f"the group syntax '(?{self.text[self.at + 1:self.at + 3]}' "
                             "(flags or named groups)")
        self.groups += 1
        inner, nullable = self.alternation()
        self.close()
        return f"({inner})", nullable

    def close(self) -> None:
        if self.take() != ")":
            raise ValueError("an unclosed group")

    def escape(self) -> tuple[str, bool]:
        char = self.take()
        if char in _PUNCT:
            return _lit(char), False
        if char in _CONTROL:
            return _lit(_CONTROL[char]), False
        if char.lower() in _CLASS_ESCAPES:
            return _class_source(_CLASS_ESCAPES[char.lower()], char.isupper()), False
        if char in "bB":
            return f"\\{char}", True  # both engines: ASCII word characters
        if char == "A":
            return "^", True
        if char == "z":
            return "$", True
        if char == "x":
            return _lit(self.hex_escape()), False
        raise ValueError(f"the escape \\{char}")

    def hex_escape(self) -> str:
        if self.peek() == "{":
            end = self.text.find("}", self.at)
            digits, self.at = self.text[self.at + 1:end], end + 1
        else:
            digits = self.text[self.at:self.at + 2]
            self.at += 2
        if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError(f"a bad hex escape \\x{digits}")
        return chr(int(digits, 16))

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.at += 1
        members: list[tuple[str, str]] = []
        first = True
        while True:
            char = self.take()
            if char == "]" and not first:
                break
            first = False
            if char == "[" and self.peek() == ":":
                raise ValueError("a POSIX class [:name:]")
            if char == "\\":
                low = self.class_escape(members)
                if low is None:
                    continue
            else:
                low = char
            if self.peek() == "-" and self.text[self.at + 1:self.at + 2] not in ("]", ""):
                self.at += 1
                high = self.take()
                if high == "\\":
                    high = self.class_escape(None)
                if high is None or ord(high) < ord(low):
                    raise ValueError(f"a bad range in a class at {self.at}")
                members.append((low, high))
            else:
                members.append((low, low))
        if not members:
            raise ValueError("an empty class")
        return _class_source(members, negated)

    def class_escape(self, members: list[tuple[str, str]] | None) -> str | None:
        """A single character, or None after adding \\d, \\s, \\w's ranges to `members`."""
        char = self.take()
        if char in _PUNCT:
            return char
        if char in _CONTROL:
            return _CONTROL[char]
        if char == "x":
            return self.hex_escape()
        if char in _CLASS_ESCAPES and members is not None:
            members.extend(_CLASS_ESCAPES[char])
            return None
        raise ValueError(f"the escape \\{char} inside a class")


def rewrite_parts(rewrite: str) -> list[str | int]:
    """RE2's replacement ("\\1" a group, "\\\\" a backslash) as literal strings and group
    numbers, which preprocess.js joins: no `$` rules of JavaScript's replace to trip on."""
    parts: list[str | int] = []
    literal, k = [], 0
    while k < len(rewrite):
        char = rewrite[k]
        if char != "\\":
            literal.append(char)
            k += 1
            continue
        nxt = rewrite[k + 1:k + 2]
        if nxt == "\\":
            literal.append("\\")
        elif nxt.isdigit():
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(int(nxt))
        else:
            raise ValueError(f"the rewrite {rewrite!r} has '\\{nxt}', which RE2 rejects")
        k += 2
    if literal:
        parts.append("".join(literal))
    return parts
