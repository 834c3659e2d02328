"""A loopback stand-in for the Hub's HTTP API, enough for ``HfRegistry`` to publish, tag, resolve and read.

It speaks the routes huggingface_hub 2.4 calls (create repo, revision info, refs, tree, commits, preupload, the
ndjson commit, tag, resolve) and records every request, so tests assert at the HTTP boundary: which calls, which
arguments, what was uploaded, and that the token travels only in the Authorization header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.requests: list[dict] = []  # {method, path, headers (lower-case names), body}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- git-like state -------------------------------------------------------------------------------------

    def commit(self, repo_id: str, files: dict[str, bytes], deleted: set[str], title: str, parent: str | None) -> str:
        repo = self.repos[repo_id]
        tree = dict(repo["commits"][parent]["files"]) if parent else {}
        for path in deleted:
            tree.pop(path, None)
        tree.update(files)
        sha = hashlib.sha1(f"{parent}{title}{sorted(tree.items())}{len(repo['commits'])}".encode()).hexdigest()
        repo["commits"][sha] = {"files": tree, "title": title, "parent": parent, "date": datetime.now(timezone.utc)}
        repo["branches"]["main"] = sha
        return sha

    def resolve(self, repo_id: str, revision: str) -> str | None:
        repo = self.repos[repo_id]
        revision = unquote(revision)
        if revision in repo["commits"]:
            return revision
        return repo["branches"].get(revision) or repo["tags"].get(revision)


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _reply(self, status: int, payload=None, headers: dict | None = None, raw: bytes | None = None) -> None:
            body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, code: str) -> None:
            self._reply(404, {"error": code}, {"X-Error-Code": code})

        def _route(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            with hub.lock:
                hub.requests.append({"method": self.command, "path": path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if path == "/api/validate-yaml":  # create_commit asks the Hub to validate README.md front matter
                return self._reply(200, {"errors": [], "warnings": []})
            if path == "/api/repos/create":
                data = json.loads(body)
                repo_id = f"{data['organization']}/{data['name']}"
                if repo_id in hub.repos:  # the Hub's 409 carries the url; create_repo(exist_ok=True) reads it
                    return self._reply(409, {"error": "exists", "url": f"{hub.url}/datasets/{repo_id}"})
                hub.repos[repo_id] = {"commits": {}, "branches": {}, "tags": {}, "private": data.get("visibility") == "private"}
                # Like the Hub: a new repo starts with a system commit holding .gitattributes.
                hub.commit(repo_id, {".gitattributes": b"*.parquet filter=lfs\n"}, set(), "initial commit", None)
                return self._reply(200, {"url": f"{hub.url}/datasets/{repo_id}"})
            if parts[0] == "datasets" and len(parts) >= 5 and parts[3] == "resolve":
                return self._resolve_file(f"{parts[1]}/{parts[2]}", parts[4], "/".join(parts[5:]))
            if parts[:2] != ["api", "datasets"] or len(parts) < 5:
                return self._reply(400, {"error": f"unexpected {path}"})
            repo_id, action, rest = f"{parts[2]}/{parts[3]}", parts[4], parts[5:]
            if repo_id not in hub.repos:
                return self._error("RepoNotFound")
            repo = hub.repos[repo_id]
            if action == "refs":
                ref = lambda kind, name, sha: {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": sha}  # noqa: E731
                return self._reply(200, {
                    "branches": [ref("heads", n, s) for n, s in repo["branches"].items()],
                    "tags": [ref("tags", n, s) for n, s in repo["tags"].items()],
                    "converts": [],
                })
            sha = hub.resolve(repo_id, rest[0]) if rest else None
            if sha is None:
                return self._error("RevisionNotFound")
            files = repo["commits"][sha]["files"]
            if action == "revision":
                return self._reply(200, {"id": repo_id, "sha": sha, "private": repo["private"],
                                         "siblings": [{"rfilename": p} for p in sorted(files)]})
            if action == "tree":
                return self._reply(200, [
                    {"type": "file", "path": p, "size": len(c), "oid": hashlib.sha1(c).hexdigest()}
                    for p, c in sorted(files.items())
                ])
            if action == "commits":
                out, cursor = [], sha
                while cursor:
                    commit = repo["commits"][cursor]
                    out.append({"id": cursor, "title": commit["title"], "message": "", "authors": [{"user": "me"}],
                                "date": commit["date"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
                    cursor = commit["parent"]
                return self._reply(200, out)
            if action == "preupload":
                paths = [f["path"] for f in json.loads(body)["files"]]
                return self._reply(200, {"files": [{"path": p, "uploadMode": "regular", "shouldIgnore": False}
                                                   for p in paths]})
            if action == "commit":
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                header = next(x["value"] for x in lines if x["key"] == "header")
                if header.get("parentCommit") not in (None, sha):
                    return self._reply(412, {"error": "parent commit is not the head"})
                added = {x["value"]["path"]: base64.b64decode(x["value"]["content"]) for x in lines if x["key"] == "file"}
                deleted = {x["value"]["path"] for x in lines if x["key"] == "deletedFile"}
                new = hub.commit(repo_id, added, deleted, header["summary"], sha)
                return self._reply(200, {"commitUrl": f"{hub.url}/datasets/{repo_id}/commit/{new}", "commitOid": new})
            if action == "tag":
                tag = json.loads(body)["tag"]
                if tag in repo["tags"]:
                    return self._reply(409, {"error": "tag exists"})
                repo["tags"][tag] = sha
                return self._reply(200, {})
            return self._reply(400, {"error": f"unexpected {path}"})

        def _resolve_file(self, repo_id: str, revision: str, file: str) -> None:
            if repo_id not in hub.repos:
                return self._error("RepoNotFound")
            sha = hub.resolve(repo_id, revision)
            if sha is None:
                return self._error("RevisionNotFound")
            content = hub.repos[repo_id]["commits"][sha]["files"].get(file)
            if content is None:
                return self._error("EntryNotFound")
            etag = f'"{hashlib.sha1(content).hexdigest()}"'
            return self._reply(200, headers={"X-Repo-Commit": sha, "ETag": etag}, raw=content)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _route

    return Handler
