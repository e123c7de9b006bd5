#!/usr/bin/env python3
"""Each source folder may include only the folders below it (docs/architecture.md):
a policy/ that included kube/ or a codec/ that included server/ would turn the design's
one-way arrows into a tangle that no unit test notices. Exits 1 naming each include that
breaks the rule. Run by `make test` (check-layering)."""
import pathlib
import re
import sys

# folder -> the project folders its files may include (besides their own).
ALLOWED = {
    "base": set(),
    "logging": set(),
    "policy": {"base"},
    "codec": {"base", "policy"},
    "certs": {"base"},
    "webhook": {"base", "policy", "codec"},
    "extender": {"base", "policy", "codec"},
    "kube": {"base", "logging", "policy", "codec"},
    "repartition": {"base", "logging", "policy", "codec", "kube"},
    "server": {"base", "logging", "policy", "codec", "certs", "webhook", "extender", "kube",
               "repartition"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^/"]+)/')


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    bad = []
    for folder, allowed in ALLOWED.items():
        for path in sorted((root / folder).glob("*")):
            if path.suffix not in (".cpp", ".h", ".in"):
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                m = INCLUDE.match(line)
                if m and m.group(1) != folder and m.group(1) not in allowed:
                    bad.append(f"{path.relative_to(root)}:{n}: {folder}/ may not include "
                               f"{m.group(1)}/ ({line.strip()})")
    for b in bad:
        print(b)
    if bad:
        print("check-layering: see docs/architecture.md for which folder may include which")
        return 1
    print(f"check-layering: {len(ALLOWED)} folders, every include points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
