#!/bin/sh
# Print the path of a Python >= 3.12 interpreter, or explain what to install.
# PyMC 6 and ArviZ 1 need Python >= 3.12; many machines default to an older python3,
# and a pyenv shim may exist for a version that is installed but not selected,
# so every candidate is actually run, not just looked up.
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

if [ -n "${PYTHON:-}" ]; then
    if ok "$PYTHON"; then echo "$PYTHON"; exit 0; fi
    echo "PYTHON=$PYTHON is not a working Python >= 3.12" >&2; exit 1
fi
for c in python3.12 python3.13 python3.14 python3; do
    p=$(command -v "$c" 2>/dev/null) || continue
    if ok "$p"; then echo "$p"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for d in "$root"/versions/3.12* "$root"/versions/3.13* "$root"/versions/3.14*; do
    for p in "$d/bin/python3" "$d/bin/python"; do
        if [ -x "$p" ] && ok "$p"; then echo "$p"; exit 0; fi
    done
done
cat >&2 <<MSG
No Python >= 3.12 found (tried python3.12, python3.13, python3.14, python3 and $root/versions).
loyaltymodels needs Python >= 3.12 (PyMC 6 and ArviZ 1 require it). Install one, e.g.
    pyenv install 3.12        (then run make again)
or  apt install python3.12 python3.12-venv
or point make at one:  make install PYTHON=/path/to/python3.12
MSG
exit 1
