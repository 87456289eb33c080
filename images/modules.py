#!/usr/bin/env python3
"""Prints the module files (relative to /lib/modules/<ver>/) needed to load the given modules,
dependencies first, from the kernel's modules.dep (written by `depmod -b`). Modules built into the
kernel (modules.builtin) need nothing and are skipped.

usage: modules.py <modules dir> <name> [<name> ...]
"""

import os
import sys


def main():
    root, names = sys.argv[1], sys.argv[2:]
    deps = {}
    by_name = {}
    with open(os.path.join(root, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
            name = os.path.basename(path)[: -len(".ko")].replace("-", "_")
            by_name[name] = path
    builtin = set()
    with open(os.path.join(root, "modules.builtin")) as f:
        for line in f:
            builtin.add(os.path.basename(line.strip())[: -len(".ko")].replace("-", "_"))
    out = []

    def add(path):
        for d in deps.get(path, []):
            add(d)
        if path not in out:
            out.append(path)

    for n in names:
        n = n.replace("-", "_")
        if n in builtin:
            continue
        if n not in by_name:
            sys.exit(f"modules.py: no module {n} in {root}")
        add(by_name[n])
    print("\n".join(out))


if __name__ == "__main__":
    main()
