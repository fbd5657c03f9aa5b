"""A tiny HTTP service for the example app: listens on 127.0.0.1:$PORT, answers
`/health` with 200 and `/` with a line naming itself and what it references."""
import http.server
import os
import sys

NAME = sys.argv[1] if len(sys.argv) > 1 else "service"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{NAME} replica {os.environ.get('KASPIRE_REPLICA_INDEX', '0')}; api at {os.environ.get('services__api__http__0', '-')}\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, fmt, *args):
        print(f"{NAME}: {fmt % args}", flush=True)


port = int(os.environ.get("PORT", "8000"))
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"{NAME} listening on 127.0.0.1:{port}", flush=True)
server.serve_forever()
