#!/usr/bin/python3
"""The docs' `yolopr quantize` and `yolopr export` lines against the tool's own
--help: every option a doc names must be one the command takes, and a usage
block (a fenced code line `yolopr CMD MODEL …` with its indented continuation
lines) must name exactly the options of the command's usage.

usage: check_cli_docs.py YOLOPR SOURCE_ROOT
Reads README.md and docs/*.md under SOURCE_ROOT; exits 1 naming each mismatch.
"""
import glob
import os
import re
import subprocess
import sys

COMMANDS = ("quantize", "export")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-o)(?![\w-])")


def help_options(yolopr, cmd):
    """(options of the usage lines, options anywhere in the help)."""
    run = subprocess.run([yolopr, cmd, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False)
    if run.returncode != 0:
        raise SystemExit("%s %s --help: exit %d\n%s" % (yolopr, cmd, run.returncode, run.stdout))
    usage, lines = [], run.stdout.splitlines()
    for i, line in enumerate(lines):
        # the usage: "usage: yolopr CMD …" and the lines indented under it
        # (up to the two-space-indented description)
        if i == 0 or (usage and line.startswith("       ")):
            usage.append(line)
        elif usage:
            break
    return (set(OPTION.findall("\n".join(usage))),
            set(OPTION.findall(run.stdout)) | {"--help", "-h"})


def doc_mentions(path, cmd):
    """[(line number, text, is a usage block)] for each `yolopr CMD` of a doc."""
    out, fenced = [], False
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            fenced = not fenced
            i += 1
            continue
        if fenced and line.startswith("yolopr " + cmd + " "):
            text, j = line, i + 1
            while j < len(lines) and lines[j].startswith(" ") and lines[j].strip():
                text += "\n" + lines[j]
                j += 1
            out.append((i + 1, text, line.startswith("yolopr %s MODEL " % cmd)))
            i = j
            continue
        for m in re.finditer(r"`(yolopr %s [^`]*)`" % cmd, line):
            out.append((i + 1, m.group(1), False))
        i += 1
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    yolopr, root = sys.argv[1], sys.argv[2]
    docs = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    bad, blocks = [], {c: 0 for c in COMMANDS}
    for cmd in COMMANDS:
        usage, known = help_options(yolopr, cmd)
        if not usage or "-o" not in usage:
            raise SystemExit("yolopr %s --help: no usage options read (%s)" % (cmd, sorted(usage)))
        for path in docs:
            for line, text, is_usage in doc_mentions(path, cmd):
                where = "%s:%d" % (os.path.relpath(path, root), line)
                named = set(OPTION.findall(text))
                for opt in sorted(named - known):
                    bad.append("%s: yolopr %s has no option %s" % (where, cmd, opt))
                if is_usage:
                    blocks[cmd] += 1
                    for opt in sorted(usage - named):
                        bad.append("%s: the usage of yolopr %s lacks %s" % (where, cmd, opt))
                    for opt in sorted(named - usage):
                        if opt in known:
                            bad.append("%s: %s is not in yolopr %s's usage" % (where, opt, cmd))
    for cmd, n in blocks.items():
        if n == 0:
            bad.append("no usage block of yolopr %s found in README.md or docs/" % cmd)
    for b in bad:
        print(b)
    if bad:
        sys.exit(1)
    print("yolopr %s: the docs name exactly the options --help lists (%s usage blocks)"
          % (" and ".join(COMMANDS), ", ".join("%s %d" % kv for kv in blocks.items())))


if __name__ == "__main__":
    main()
