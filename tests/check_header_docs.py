#!/usr/bin/python3
"""The public header's doc comments keep their promises (STYLE.md, docs/abi.md):

- every YPR_API function has a /** … */ comment right before it, with @since;
- every one returning int (a status) says what it returns (@return);
- every @p NAME is one of that function's parameters;
- every ypr_NAME() the header mentions is a function it declares.

usage: check_header_docs.py include/yolopr.h   (exit 0 when all hold)
"""
import re
import sys

DECL = re.compile(
    r"(?P<doc>/\*\*(?:(?!\*/).)*\*/)?\s*"       # the comment right before, if any
    r"YPR_API\s+(?P<ret>[^;(]*?)\s*\b(?P<name>ypr_\w+)\s*"
    r"\((?P<params>[^)]*)\)\s*;", re.S)


def no_preprocessor(text):
    return re.sub(r"^[ \t]*#.*(\\\n.*)*$", " ", text, flags=re.M)


def code_only(text):
    """The header without comments and preprocessor lines."""
    return no_preprocessor(re.sub(r"/\*.*?\*/", " ", text, flags=re.S))


def param_names(params):
    names = set()
    for p in params.split(","):
        p = p.strip()
        if not p or p == "void":
            continue
        m = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", p)
        if m:
            names.add(m.group(1))
    return names


def check(text):
    problems = []
    decls = list(DECL.finditer(no_preprocessor(text)))
    declared = {m.group("name") for m in decls}
    if len(decls) != len(re.findall(r"\bYPR_API\b", code_only(text))):
        problems.append("some YPR_API declarations were not understood by this checker")
    for m in decls:
        name, ret = m.group("name"), " ".join(m.group("ret").split())
        doc = m.group("doc") or ""
        if not doc:
            problems.append(f"{name}: no /** */ doc comment right before it")
            continue
        if "@since" not in doc:
            problems.append(f"{name}: doc comment lacks @since")
        if ret == "int" and "@return" not in doc:
            problems.append(f"{name}: returns int but its doc comment has no @return")
        params = param_names(m.group("params"))
        for p in re.findall(r"@p\s+(\w+)", doc):
            if p not in params:
                problems.append(f"{name}: @p {p} is not one of its parameters {sorted(params)}")
    for ref in sorted(set(re.findall(r"\b(ypr_\w+)\(\)", text))):
        if ref not in declared:
            problems.append(f"the header mentions {ref}(), which it does not declare")
    return problems, len(decls)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    problems, n = check(text)
    for p in problems:
        print(p)
    if n == 0:
        print("no YPR_API declarations found")
        return 1
    if not problems:
        print(f"{n} YPR_API functions: documented, int results with @return, @p and ypr_…() "
              "references resolve")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
