"""llmplan verify on the GPU node: the engine's KV-cache capacity against the plan's."""

# Run by the boot script of generate --verify, which carries this file verbatim, hence
# self-contained (python3 standard library, 3.10 as on Ubuntu 22.04). It waits for /health, reads
# the engine's own KV-cache tokens the way llmplan.verify.capacity does (tests hold the two to
# the same figures), compares them with the plan, and records the result: stdout (journalctl -u
# llmplan-verify), the boot log, a JSON file, and EC2 tags or GCE guest attributes. Exit 1 when
# the check fails. Every line has an even number of double quotes and no C comment opener:
# checkov's HCL reader checks heredocs inside function calls line by line.

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

AWS_IMDS = os.environ.get("LLMPLAN_VERIFY_AWS_IMDS", "http://169.254.169.254")
GCE_METADATA = os.environ.get("LLMPLAN_VERIFY_GCE_METADATA", "http://metadata.google.internal")
POLL_S = float(os.environ.get("LLMPLAN_VERIFY_POLL_S", "15"))
# Only the engine on this node and the metadata servers are called: never through a proxy.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url: str, method: str = "GET", data: bytes | None = None,
         headers: dict[str, str] | None = None) -> str | None:
    """The body, or None for 404/405 (the endpoint does not exist)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=10) as resp:
            return str(resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405):
            return None
        raise


def metric(text: str | None, name: str) -> list[dict[str, str]]:
    """Label sets (plus "value") of one Prometheus metric's samples."""
    out = []
    for m in re.finditer(r"^" + re.escape(name) + r"(?:\{(.*)\})?\s+(\S+)", text or "", re.M):
        labels = dict(re.findall(r"(\w+)=\x22((?:[^\x22\\]|\\.)*)\x22", m.group(1) or ""))
        out.append({**labels, "value": m.group(2)})
    return out


def num(value: object) -> int | None:
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def kv_tokens(engine: str, base: str) -> tuple[list[int], str]:
    """KV-cache tokens per engine instance (data-parallel rank), and where they were read."""
    if engine == "vllm":
        infos = metric(http(base + "/metrics"), "vllm:cache_config_info")
        out = []
        for i in sorted(infos, key=lambda i: num(i.get("engine", 0)) or 0):
            tokens = num(i.get("kv_cache_size_tokens"))
            if tokens is None and num(i.get("num_gpu_blocks")) is not None:
                tokens = (num(i["num_gpu_blocks"]) or 0) * (num(i.get("block_size")) or 0)
            if tokens is not None:
                out.append(tokens)
        return out, "vLLM /metrics vllm:cache_config_info"
    if engine == "sglang":
        body = http(base + "/server_info") or http(base + "/get_server_info") or "{}"
        info = json.loads(body)
        top = num(info.get("max_total_num_tokens"))
        ranks = [s for s in info.get("internal_states") or [] if isinstance(s, dict)]
        caps = [num((s.get("memory_usage") or {}).get("token_capacity")) or top for s in ranks]
        if not ranks and top is not None:
            caps = [top] * max(1, num(info.get("dp_size")) or 1)
        return [c for c in caps if c is not None], "SGLang server info max_total_num_tokens"
    if engine == "tgi":
        gauge = metric(http(base + "/metrics"), "tgi_batch_max_total_tokens")
        if gauge:
            return [num(gauge[0]["value"]) or 0], "TGI /metrics tgi_batch_max_total_tokens"
        old = num(json.loads(http(base + "/info") or "{}").get("max_batch_total_tokens"))
        return ([old] if old is not None else []), "TGI /info max_batch_total_tokens"
    return [], f"no capacity figures for {engine}"


def check(args: argparse.Namespace, port: int, deadline: float) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            http(base + "/health")
            break
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                return {"port": port, "status": "fail", "summary": "engine never healthy"}
            time.sleep(POLL_S)
    try:
        tokens, source = kv_tokens(args.engine, base)
    except (OSError, ValueError) as exc:
        tokens, source = [], f"reading the engine failed: {exc}"
    if not tokens:
        return {"port": port, "status": "skip", "summary": source}
    kv = min(tokens)
    deviation = kv / args.kv_tokens - 1
    held = kv / args.context
    status = "pass"
    if deviation < -args.tolerance / 100 or held < args.demand:
        status = "fail"
    elif deviation > args.tolerance / 100:
        status = "warn"
    summary = (f"{kv:,} KV-cache tokens per replica vs {args.kv_tokens:,} planned "
               f"({deviation * 100:+.1f}%), {held:.1f} requests of {args.context:,} tokens "
               f"for {args.demand:g} per replica ({source})")
    return {"port": port, "status": status, "kv_tokens": kv, "deviation": round(deviation, 4),
            "summary": summary}


def publish(cloud: str, region: str, tags: dict[str, str]) -> str:
    """The result on the instance itself, where a narrow grant allows it."""
    try:
        if cloud == "aws":
            if not shutil.which("aws"):
                return "not published: no aws CLI on this image"
            token = http(AWS_IMDS + "/latest/api/token", "PUT", b"",
                         {"X-aws-ec2-metadata-token-ttl-seconds": "300"}) or ""
            auth = {"X-aws-ec2-metadata-token": token}
            meta = AWS_IMDS + "/latest/meta-data/"
            instance = http(meta + "instance-id", headers=auth) or ""
            region = region or http(meta + "placement/region", headers=auth) or ""
            pairs = [{"Key": "llmplan-" + k, "Value": v[:255]} for k, v in tags.items()]
            subprocess.run(["aws", "ec2", "create-tags", "--region", region, "--resources",
                            instance.strip(), "--tags", json.dumps(pairs)],
                           check=True, capture_output=True, timeout=60)
            return "EC2 tags llmplan-verify*"
        if cloud == "gcp":
            for key, value in tags.items():
                http(f"{GCE_METADATA}/computeMetadata/v1/instance/guest-attributes/llmplan/{key}",
                     "PUT", value.encode(), {"Metadata-Flavor": "Google"})
            return "guest attributes llmplan/verify*"
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return f"not published: {exc}"
    return "not published on the instance (log and file only)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    for name in ("--engine", "--ports"):
        p.add_argument(name, required=True)
    for name in ("--cloud", "--region"):
        p.add_argument(name, default="")
    for name in ("--context", "--kv-tokens"):
        p.add_argument(name, type=int, required=True)
    p.add_argument("--demand", type=float, default=1.0)
    p.add_argument("--tolerance", type=float, default=10.0)
    p.add_argument("--wait", type=float, default=7200.0)
    p.add_argument("--out", default="/var/lib/llmplan/verify.json")
    p.add_argument("--log", default="/var/log/llmplan-boot.log")
    args = p.parse_args(argv)
    deadline = time.monotonic() + args.wait
    results = [check(args, int(port), deadline) for port in args.ports.split(",")]
    order = ["pass", "skip", "warn", "fail"]
    status = max((str(r["status"]) for r in results), key=order.index)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    engine_kv = "/".join(str(r["kv_tokens"]) for r in results if "kv_tokens" in r) or "unknown"
    tags = {"verify": status, "verify-at": now,
            "verify-kv-tokens": f"engine {engine_kv} plan {args.kv_tokens}"}
    where = publish(args.cloud, args.region, tags)
    text = "\n".join([f"llmplan verify (capacity): {status.upper()}"]
                     + [f"  port {r['port']}: {r['status']}: {r['summary']}" for r in results]
                     + [f"  recorded in {args.out}; {where}"])
    print(text, flush=True)
    report = {"status": status, "checked_at": now, "published": where, "ports": results}
    for path, content, mode in ((args.out, json.dumps(report, indent=2) + "\n", "w"),
                                (args.log, text + "\n", "a")):
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, mode, encoding="utf-8") as handle:
                handle.write(content)
        except OSError as exc:
            print(f"cannot write {path}: {exc}", flush=True)
    return 1 if status == "fail" else 0


if __name__ == "__main__":
    raise SystemExit(main())
