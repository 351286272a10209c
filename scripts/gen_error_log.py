#!/usr/bin/env python3
"""Writes a realistic nginx error log for benchmarks: mostly noise (keep-alive closes,
499s, static 404s, rate limiting, start-up notices), about 1 in 8 lines an upstream
failure of one of the design §3 categories, line lengths like production (150-600 bytes,
some long request lines). Deterministic: the same --seed and --size give the same bytes.

    scripts/gen_error_log.py --size 1G --out /tmp/error-1g.log [--seed 7] [--density 0.125]

--density is the fraction of lines that are upstream failures (default 0.125, the file
docs/performance.md measured before issue 13; the issue-13 rows use 0.05, 0.30, 0.70).

Timestamps advance about one second every 20 lines, ending near --end (default
2026-11-22 12:00:00), so `--since 15m` selects the last minutes of the file.
Never write big files into the repository."""
import argparse
import datetime
import random

SIZES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(s):
    s = s.strip().upper()
    if s[-1] in SIZES:
        return int(float(s[:-1]) * SIZES[s[-1]])
    return int(s)


def ctx(rnd, server, req, up=None):
    c = f', client: 198.51.{rnd.randrange(256)}.{rnd.randrange(256)}, server: {server}, request: "{req}"'
    if up:
        c += f', upstream: "{up}"'
    return c + f', host: "{server}"'


def make_bodies(rnd):
    servers = ["shop.example.com", "api.example.com", "blog.example.org", "static.example.net"]
    paths = ["/", "/api/orders", "/api/cart?id=42", "/checkout", "/wp-login.php", "/index.php",
             "/search?q=" + "x" * 300, "/img/logo.png"]
    ups = ["http://127.0.0.1:3000", "http://10.0.0.5:8080", "fastcgi://unix:/run/php/php8.2-fpm.sock:",
           "http://unix:/run/gunicorn.sock:"]
    failures = [
        "connect() failed (111: Connection refused) while connecting to upstream",
        "connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream",
        "connect() to unix:/run/php/php8.2-fpm.sock failed (13: Permission denied) while connecting to upstream",
        "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream",
        "upstream timed out (110: Connection timed out) while reading response header from upstream",
        "upstream timed out (110: Connection timed out) while connecting to upstream",
        "upstream prematurely closed connection while reading response header from upstream",
        "recv() failed (104: Connection reset by peer) while reading response header from upstream",
        "upstream sent too big header while reading response header from upstream",
        "upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream",
        "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream",
        "no live upstreams while connecting to upstream",
        "FastCGI sent in stderr: \"Primary script unknown\" while reading response header from upstream",
    ]
    noise = []
    fail = []
    for _ in range(400):
        s = rnd.choice(servers)
        p = rnd.choice(paths)
        req = f"{rnd.choice(['GET', 'POST'])} {p} HTTP/1.1"
        u = rnd.choice(ups)
        noise.append(("info", f"client {rnd.randrange(1, 255)}.0.113.9 closed keepalive connection"))
        noise.append(("info", "client prematurely closed connection while sending response to client" + ctx(rnd, s, req)))
        noise.append(("error", f'open() "/var/www/html{p.split("?")[0]}" failed (2: No such file or directory)' + ctx(rnd, s, req)))
        noise.append(("error", 'limiting requests, excess: 10.250 by zone "api"' + ctx(rnd, s, req)))
        noise.append(("info", "client timed out (110: Connection timed out) while waiting for request, client: 203.0.113.9, server: 0.0.0.0:443"))
        noise.append(("warn", "an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream" + ctx(rnd, s, req, u + p)))
        fail.append(("error", rnd.choice(failures) + ctx(rnd, s, req, u + p)))
    return noise, fail


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="64M")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--end", default="2026-11-22 12:00:00")
    ap.add_argument("--density", type=float, default=0.125,
                    help="fraction of lines that are upstream failures (0..1)")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    target = parse_size(a.size)
    noise, fail = make_bodies(rnd)
    # Estimate the line count to place the end time; ~260 bytes per line on average.
    est_lines = max(1, target // 260)
    end = datetime.datetime.fromisoformat(a.end)
    t = end - datetime.timedelta(seconds=est_lines // 20)
    written = 0
    n = 0
    buf = []
    stamp = t.strftime("%Y/%m/%d %H:%M:%S")
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        while written < target:
            if n % 20 == 0:
                t += datetime.timedelta(seconds=1)
                stamp = t.strftime("%Y/%m/%d %H:%M:%S")
            lvl, body = rnd.choice(fail) if rnd.random() < a.density else rnd.choice(noise)
            line = f"{stamp} [{lvl}] 811#811: *{n} {body}\n"
            buf.append(line)
            written += len(line)
            n += 1
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    print(f"{a.out}: {written} bytes, {n} lines, last {stamp}")


if __name__ == "__main__":
    main()
