"""A tiny in-memory database server for examples/parent-value.yaml, so the seeds'
Postgres example runs on a machine with no images. Over HTTP on 127.0.0.1:$PORT:

  GET  /health               200 once listening
  PUT  /NAME                 create database NAME (what CREATE DATABASE does)
  PUT  /NAME/KEY  (body)     store a value;  GET /NAME/KEY reads it back

Every request but /health needs the header `Password: $PASSWORD`.

The same file is the client the other resources run:

  minidb.py serve                     the server (the parent Executable `db`)
  minidb.py create-database NAME      onParentReady of the Value: runs like the server,
                                      so it finds the server at $PORT with $PASSWORD
  minidb.py migrate                   the migration: writes the schema version into the
                                      database named by $ConnectionStrings__appdata
  minidb.py api                       an HTTP API on $PORT whose /health is 200 once the
                                      database is migrated
"""
import http.client
import http.server
import os
import sys

DATABASES = {}


def serve():
    password = os.environ["PASSWORD"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body=b""):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def parts(self):
            if self.path == "/health":
                return None
            if self.headers.get("Password") != password:
                self.answer(401, b"wrong password\n")
                return False
            return [p for p in self.path.split("/") if p]

        def do_GET(self):
            parts = self.parts()
            if parts is None:
                return self.answer(200, b"ok\n")
            if parts is False:
                return
            if len(parts) == 2 and parts[1] in DATABASES.get(parts[0], {}):
                return self.answer(200, DATABASES[parts[0]][parts[1]])
            self.answer(404, b"no such database or key\n")

        def do_PUT(self):
            parts = self.parts()
            if not parts:
                return self.answer(400) if parts is None else None
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if len(parts) == 1:
                created = parts[0] not in DATABASES
                DATABASES.setdefault(parts[0], {})
                print(f"database {parts[0]} {'created' if created else 'exists'}", flush=True)
                return self.answer(201 if created else 200)
            if parts[0] not in DATABASES:
                return self.answer(404, f"database {parts[0]} does not exist\n".encode())
            DATABASES[parts[0]][parts[1]] = body
            self.answer(200)

        def log_message(self, fmt, *args):
            pass

    port = int(os.environ["PORT"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"minidb listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


def request(method, host, port, password, path, body=None):
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, path, body=body, headers={"Password": password})
    response = conn.getresponse()
    return response.status, response.read().decode()


def from_connection_string(text):
    """`Host=localhost;Port=5432;Password=...;Database=appdata` as a dict."""
    return dict(part.split("=", 1) for part in text.split(";") if "=" in part)


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "serve":
        return serve()
    if command == "create-database":
        status, body = request("PUT", "127.0.0.1", os.environ["PORT"],
                               os.environ["PASSWORD"], "/" + sys.argv[2])
        print(f"CREATE DATABASE {sys.argv[2]}: HTTP {status} {body}".strip(), flush=True)
        return 0 if status in (200, 201) else 1
    cs = from_connection_string(os.environ["ConnectionStrings__appdata"])
    db = cs["Database"]
    if command == "migrate":
        status, body = request("PUT", cs["Host"], cs["Port"], cs["Password"],
                               f"/{db}/schema-version", b"1")
        print(f"migrated {db} to schema version 1: HTTP {status} {body}".strip(), flush=True)
        return 0 if status == 200 else 1
    if command == "api":
        class Api(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, version = request("GET", cs["Host"], cs["Port"], cs["Password"],
                                          f"/{db}/schema-version")
                body = f"api on {db}, schema version {version}\n".encode()
                self.send_response(200 if status == 200 else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                pass

        port = int(os.environ["PORT"])
        print(f"api listening on 127.0.0.1:{port}, database {db}", flush=True)
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Api).serve_forever()
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
