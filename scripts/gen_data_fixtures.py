#!/usr/bin/env python3
"""Fixtures for LoomDataTests' HTML extractor check on a real page.

Copies one page of the Python documentation as Debian's python3-doc package ships it
(Sphinx HTML with navigation bars, a sidebar and a footer; PSF documentation licence) and
writes the reference main text: html2text (pip) run on the page's `div role="main"` only,
with Markdown decoration (heading marks, bullets, emphasis) stripped to plain lines.

    apt-get install python3-doc && pip install html2text
    python3 scripts/gen_data_fixtures.py
"""
import glob
import os
import re
import sys

import html2text

pages = sorted(p for p in glob.glob("/usr/share/doc/python3.[0-9]*/html/library/colorsys.html")
               if not os.path.islink(os.path.dirname(os.path.dirname(os.path.dirname(p)))))
if not pages:
    sys.exit("python3-doc is not installed (apt-get install python3-doc)")
html = open(pages[0], encoding="utf-8").read()
out = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomDataTests", "Fixtures")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "python_doc_excerpt.html"), "w", encoding="utf-8") as f:
    f.write(html)

start = html.index('<div class="body" role="main">')
end = html.index('<div class="clearer"></div>', start)
converter = html2text.HTML2Text()
converter.body_width = 0
converter.ignore_links = True
converter.ignore_images = True
converter.ignore_emphasis = True
text = converter.handle(html[start:end])
lines = []
for line in text.splitlines():
    line = re.sub(r"^#+ ", "", line.strip())  # heading marks
    line = re.sub(r"^[*+-] ", "", line)  # bullets
    line = line.replace("`", "").replace("¶", "").strip()
    if re.search(r"\w", line):  # not a rule (`* * *`)
        lines.append(line)
with open(os.path.join(out, "python_doc_excerpt.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
print(f"wrote {len(lines)} reference lines from {pages[0]}")
