#!/usr/bin/env bash
# The real corpus for `loom data` tests and benchmarks: Debian's python3-doc package, the
# Python documentation as ~500 Sphinx HTML pages with real site chrome (navigation bars,
# sidebars, footers), plus their reStructuredText sources under _sources/ (*.rst.txt), which
# are real near-duplicates of the pages. Installed once with apt-get (cached by dpkg);
# prints the HTML folder.
#
#   scripts/fetch_data_corpus.sh            # → /usr/share/doc/python3.X/html
set -euo pipefail

# find does not follow the package's python3-dev → python3 style symlinks: the real folder only.
find_docs() { find /usr/share/doc -maxdepth 2 -type d -path '*/python3.*/html' 2>/dev/null | sort | head -n 1; }

docs="$(find_docs || true)"
if [ -z "$docs" ]; then
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; else sudo=""; fi
    echo "installing python3-doc…" >&2
    $sudo apt-get install -y --no-install-recommends python3-doc >&2 || {
        $sudo apt-get update >&2
        $sudo apt-get install -y --no-install-recommends python3-doc >&2
    }
    docs="$(find_docs)"
fi
[ -d "$docs" ] || { echo "python3-doc installed but no HTML folder under /usr/share/doc" >&2; exit 1; }
echo "$docs"
