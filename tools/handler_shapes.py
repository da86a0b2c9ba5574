#!/usr/bin/env python3
"""Counts the HTTP handlers of enlist by shape, for issue 29's evidence.

A handler is a top-level `pub async fn` in a surface module that the route
tables name. For each surface it prints how many handlers return a bare
`HttpResponse` and how many a `Result`, their median length in lines, and
the explicit `return`s inside handler bodies.

    python3 tools/handler_shapes.py            # the working tree
    python3 tools/handler_shapes.py <git-rev>  # any commit
"""

import re
import statistics
import subprocess
import sys

HTML = re.compile(
    r"^src/(web/.*|api/(console/.*|pages|invite_page|join_page|account_pages|oauth/authorize)\.rs)$"
)
JSON = re.compile(r"^src/api/(admin/.*|invitee|oauth/(token|metadata)|health)\.rs$")


def files(rev):
    if rev:
        names = subprocess.run(
            ["git", "ls-tree", "-r", "--name-only", rev, "src"],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        read = lambda p: subprocess.run(
            ["git", "show", f"{rev}:{p}"], capture_output=True, text=True, check=True
        ).stdout
    else:
        names = subprocess.run(
            ["git", "ls-files", "src"], capture_output=True, text=True, check=True
        ).stdout.split()
        read = lambda p: open(p).read()
    return [(n, read(n)) for n in names if n.endswith(".rs")]


def handlers(text):
    """(signature, body lines) of each top-level `pub async fn`."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("pub async fn "):
            start = i
            while not lines[i].rstrip().endswith("{"):
                i += 1
            signature = " ".join(l.strip() for l in lines[start : i + 1])
            body = []
            i += 1
            while i < len(lines) and lines[i] != "}":
                body.append(lines[i])
                i += 1
            yield signature, body
        i += 1


def routed(all_files):
    """Names the route tables register (`.to(x)`, `.get(x)`, `.post(x)`...)."""
    names = set()
    for _, text in all_files:
        for m in re.finditer(r"\.(?:to|get|post|patch|delete)\(\s*([a-z_:]+)\s*\)", text):
            names.add(m.group(1).split("::")[-1])
    return names


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else None
    all_files = files(rev)
    registered = routed(all_files)
    for surface, pattern in (("HTML", HTML), ("JSON", JSON)):
        bare = result = returns = 0
        lengths = []
        for path, text in all_files:
            if not pattern.match(path):
                continue
            for signature, body in handlers(text):
                name = re.match(r"pub async fn ([a-z_0-9]+)", signature).group(1)
                if name not in registered:
                    continue
                lengths.append(len(body) + 2)
                if re.search(r"->\s*HttpResponse\b", signature):
                    bare += 1
                else:
                    result += 1
                returns += sum(1 for l in body if re.search(r"\breturn\b", l.split("//")[0]))
        median = statistics.median(lengths) if lengths else 0
        print(
            f"{surface}: {len(lengths)} handlers, {bare} return a bare HttpResponse, "
            f"{result} a Result; median {median} lines; {returns} explicit returns"
        )


if __name__ == "__main__":
    main()
