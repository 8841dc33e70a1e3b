"""Write constraints.txt: the exact versions of the project's dependency closure installed in this virtualenv.

Run by `make constraints` in a .venv that has just passed `make test`; commit the result saying so. Only packages
reachable from instruct-loop's requirements (with the extras the Makefile installs) are written, so tools a
developer installed by hand (profilers, linters) never become constraints.
"""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

EXTRAS = {"embedded", "finetune", "dev", "ray"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(dist: metadata.Distribution, extras: set[str]) -> list[str]:
    names = []
    for req in dist.requires or []:
        name, _, marker = req.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra and extra.group(1) not in extras:
            continue
        names.append(re.split(r"[\s\[<>=!~(]", name.strip(), maxsplit=1)[0])
    return names


def closure(root: str) -> dict[str, str]:
    seen: dict[str, str] = {}
    todo = [(root, EXTRAS)]
    while todo:
        name, extras = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency whose marker excludes this platform
        key = canonical(dist.metadata["Name"])
        if key in seen:
            continue
        # a local label (torch's "+cpu") is dropped: "==2.13.0" still matches the local wheel the Makefile installs
        seen[key] = dist.version.split("+")[0]
        todo.extend((dep, set()) for dep in requirement_names(dist, extras))
    return seen


def main() -> None:
    pins = closure("instruct-loop")
    pins.pop("instruct-loop", None)
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "constraints.txt")
    out.write_text("# Versions `make test` last passed with (written by `make constraints`; refresh on purpose).\n"
                   + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items())), encoding="utf-8")
    print(f"{out}: {len(pins)} pins")


if __name__ == "__main__":
    main()
