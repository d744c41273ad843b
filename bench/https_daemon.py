#!/usr/bin/python3
"""The http executor through the real daemon (issue 20): pooled connections against a new
connection per request, http:// and https://, and Python's aiohttp doing the same; figures on
stdout (JSON).

  bench/https_daemon.py --build-dir build/release [--quick]

N small GETs (1,000 and 10,000; --quick: 1,000) at max_concurrent 100 to a local server over
http:// and over https:// (a certificate from a CA openssl makes here, given to batchd as
--http-ca-file). Each is made by batchd with its connection pool (the default) and with
--http-idle-timeout=0 (a new connection, and for https:// a full TLS handshake, per request),
then by aiohttp (one process, asyncio, at most 100 at a time) with its pool and with
force_close. Reported: requests/s end to end and the client's CPU per request (the daemon's
for batchd), and the ratios pooled/new-connection and batchd/aiohttp. The server is Python's
http.server (HTTP/1.1 keep-alive, one thread per connection) in its own process, so requests/s
is bounded by it; CPU per request is each client's own cost. Exits 1 when a request fails.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import cache_daemon  # noqa: E402  (its Daemon: start batchd, submit, read results, CPU)
from run_all import Servers, free_port, port_open, wait_for  # noqa: E402

SERVER = textwrap.dedent("""
    import http.server, ssl, sys
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: without this a kept-alive connection waits for the
        # client's delayed ACK (40 ms) between them, and the server, not the client, is measured.
        disable_nagle_algorithm = True
        def do_GET(self):
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 1024  # the listen backlog: 100 connections arrive at once
        daemon_threads = True
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = Server(("127.0.0.1", port), Handler)
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
""")


AIOHTTP_CLIENT = textwrap.dedent("""
    import asyncio, json, ssl, sys, time
    import aiohttp
    url, n, ca, pooled = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
    async def main():
        context = ssl.create_default_context(cafile=ca) if url.startswith("https") else False
        limit = asyncio.Semaphore(100)
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, ssl=context,
                                               force_close=not pooled)) as session:
            async def one():
                async with limit:
                    async with session.get(url) as response:
                        await response.read()
                        return response.status
            start = time.monotonic()
            statuses = await asyncio.gather(*[one() for _ in range(n)])
            return time.monotonic() - start, sum(1 for s in statuses if s == 200)
    cpu0 = time.process_time()
    wall, ok = asyncio.run(main())
    print(json.dumps({"wall_s": wall, "succeeded": ok, "cpu_s": time.process_time() - cpu0}))
""")


def aiohttp_run(url, n, ca, pooled):
    out = subprocess.run(["/usr/bin/python3", "-c", AIOHTTP_CLIENT, url, str(n), ca,
                          "1" if pooled else "0"],
                         check=True, capture_output=True, text=True, timeout=600)
    figures = json.loads(out.stdout)
    return {"requests_per_s": round(n / figures["wall_s"]),
            "cpu_us_per_request": round(figures["cpu_s"] / n * 1e6, 1),
            "succeeded": figures["succeeded"]}


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_certificates(work):
    ca, ca_key = os.path.join(work, "ca.pem"), os.path.join(work, "ca.key")
    cert, key = os.path.join(work, "server.pem"), os.path.join(work, "server.key")
    csr, ext = os.path.join(work, "server.csr"), os.path.join(work, "server.ext")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "2", "-subj", "/CN=bench-ca", "-keyout", ca_key, "-out", ca)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", "1",
            "-days", "2", "-extfile", ext, "-out", cert)
    return ca, cert, key


def gets(n, url):
    tasks = []
    for i in range(n):
        t = cache_daemon.b.Task(id=f"t{i}", executor="http")
        t.input.struct_value.update({"url": url})
        tasks.append(t)
    return tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cache_daemon.load_stubs(args.build_dir)
    binary = os.path.join(args.build_dir, "server", "batchd")
    sizes = [1000] if args.quick else [1000, 10000]
    ok = True
    with tempfile.TemporaryDirectory(prefix="batchd-https-bench-") as work:
        servers = Servers(work)
        try:
            ca, cert, key = make_certificates(work)
            urls = {}
            for scheme, (c, k) in (("http", ("", "")), ("https", (cert, key))):
                port = free_port()
                proc = servers.start(f"server-{scheme}",
                                     [sys.executable, "-c", SERVER, str(port), c, k])
                wait_for(lambda p=port: port_open(p), f"{scheme} server", 30, proc)
                urls[scheme] = f"{scheme}://127.0.0.1:{port}/item"
            daemons = {"pooled": cache_daemon.Daemon(servers, binary, f"--http-ca-file={ca}"),
                       "new_connection": cache_daemon.Daemon(servers, binary,
                                                             f"--http-ca-file={ca}",
                                                             "--http-idle-timeout=0")}
            for n in sizes:
                for scheme, url in urls.items():
                    row = {"requests": n, "max_concurrent": 100, "scheme": scheme}
                    for mode, daemon in daemons.items():
                        results, wall, cpu = daemon.run(gets(n, url), max_concurrent=100)
                        done = cache_daemon.succeeded(results)
                        ok &= done == n
                        row[f"batchd_{mode}"] = {"requests_per_s": round(n / wall),
                                                 "cpu_us_per_request": round(cpu / n * 1e6, 1),
                                                 "succeeded": done}
                    for mode in ("pooled", "new_connection"):
                        aio = aiohttp_run(url, n, ca, pooled=mode == "pooled")
                        ok &= aio["succeeded"] == n
                        row[f"aiohttp_{mode}"] = aio

                    def ratio(a, b, key):
                        return round(row[a][key] / row[b][key], 2)
                    row["batchd_pooled_vs_new_connection"] = {
                        "requests_per_s": ratio("batchd_pooled", "batchd_new_connection",
                                                "requests_per_s"),
                        "cpu_per_request": ratio("batchd_pooled", "batchd_new_connection",
                                                 "cpu_us_per_request")}
                    row["batchd_vs_aiohttp_pooled"] = {
                        "requests_per_s": ratio("batchd_pooled", "aiohttp_pooled",
                                                "requests_per_s"),
                        "cpu_per_request": ratio("batchd_pooled", "aiohttp_pooled",
                                                 "cpu_us_per_request")}
                    print(json.dumps(row), flush=True)
        finally:
            servers.stop_all()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
