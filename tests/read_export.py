#!/usr/bin/env python3
"""Downloads an export through its presigned URL and reads it with Python's own json,
csv and zipfile — code that is not the project's — then prints what it found as JSON:
{"content_type", "content_disposition", "kind": "json"|"zip", "document" (json) or
"files": {name: [[field, ...], ...]} (zip), "text": every byte of the content,
decompressed, for the test's search for secrets}."""

import csv
import io
import json
import sys
import urllib.request
import zipfile

with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
    body = response.read()
    headers = response.headers

out = {
    "content_type": headers.get("Content-Type"),
    "content_disposition": headers.get("Content-Disposition"),
}
if body.startswith(b"PK"):
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None, "a member's CRC does not match"
    out["kind"] = "zip"
    out["files"] = {}
    texts = []
    for name in archive.namelist():
        text = archive.read(name).decode("utf-8")
        texts.append(text)
        # newline="" as the csv module asks: quoted fields keep their line breaks.
        out["files"][name] = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    out["text"] = "\n".join(texts)
else:
    text = body.decode("utf-8")
    out["kind"] = "json"
    out["document"] = json.loads(text)
    out["text"] = text
json.dump(out, sys.stdout)
