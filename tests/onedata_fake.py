"""A stand-in Oneprovider: exactly the CDMI subset `faassupervisor.storage.providers.onedata` uses.

No Onedata server runs on a laptop or in CI, so the provider is tested against
this Flask app instead. It keeps files under a directory, one sub-directory per
space, and answers like Oneprovider's CDMI interface does for these calls:

- `PUT /cdmi/SPACE/PATH` (non-CDMI, raw body): create or replace a file; 404 if the parent is missing;
- `PUT /cdmi/SPACE/DIR/` with `Content-Type: application/cdmi-container`: create a directory
  (its parent must exist; 409 if it does already);
- `GET /cdmi/SPACE/PATH`: the file's bytes;
- `GET /cdmi/SPACE/PATH?metadata:cdmi_size` with `X-CDMI-Specification-Version`: `{"metadata": {"cdmi_size": "N"}}`.

Every request must carry `X-Auth-Token` (401 otherwise). Anything else is 501,
so a provider that drifts from this subset fails its tests.
"""

from __future__ import annotations

import hmac
import os
import shutil
from pathlib import Path

from flask import Flask, Response, abort, jsonify, request, send_file


def create_app(root: Path, token: str, spaces=("space1",)) -> Flask:
    app = Flask(__name__)
    for space in spaces:
        (root / space).mkdir(parents=True, exist_ok=True)

    def resolve(path: str) -> Path:
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in spaces or any(p in (".", "..") for p in parts):
            abort(404)
        return root.joinpath(*parts)

    @app.before_request
    def authenticate():
        if not hmac.compare_digest(request.headers.get("X-Auth-Token", ""), token):
            abort(401)

    @app.route("/cdmi/<path:path>", methods=["PUT"])
    def put(path: str):
        target = resolve(path)
        if request.path.endswith("/"):
            if request.headers.get("Content-Type") != "application/cdmi-container":
                abort(501)
            if not target.parent.is_dir():
                abort(404)
            if target.exists():
                abort(409)
            target.mkdir()
            return jsonify({"objectName": target.name + "/", "objectType": "application/cdmi-container"}), 201
        if not target.parent.is_dir():
            abort(404)
        existed = target.exists()
        partial = target.with_name(f".{target.name}.upload")
        with open(partial, "wb") as out:
            shutil.copyfileobj(request.stream, out, 1024 * 1024)
        os.replace(partial, target)
        return Response(status=204 if existed else 201)

    @app.route("/cdmi/<path:path>", methods=["GET"])
    def get(path: str):
        target = resolve(path)
        if not target.is_file():
            abort(404)
        if request.query_string:
            if request.query_string.decode() != "metadata:cdmi_size" or "X-CDMI-Specification-Version" not in request.headers:
                abort(501)
            return jsonify({"objectType": "application/cdmi-object", "metadata": {"cdmi_size": str(target.stat().st_size)}})
        return send_file(target, mimetype="application/octet-stream", conditional=False, etag=False)

    return app
