"""From one evaluated module to the deployments rules judge: compute + what it serves + intent.

What a machine serves is found in three places, in this order of trust:

1. its own boot script (user data, startup script, custom data): that machine runs it;
2. elsewhere in the module (ECS task definitions, SageMaker models, Helm values, Kubernetes
   manifests, YAML files shipped next to the Terraform): matched to a machine by SageMaker model
   reference or nodeSelector labels, else to the module's only GPU machine type;
3. ``llmplan-*`` tags/labels and ``.llmplan.yaml``, which say what is meant when nothing runs yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from llmplan.catalog.instances import lookup
from llmplan.check.base import Deployment
from llmplan.serving.intent import CheckConfig, intent_from_labels
from llmplan.serving.scan import HINT, Found, scan_text, scan_value
from llmplan.serving.served import Served
from llmplan.terraform.compute.reader import Compute, find_compute
from llmplan.terraform.evaluation import Evaluation, Resource
from llmplan.terraform.syntax import Block, read_text
from llmplan.terraform.values import Unknown, as_text

SCAN_SUFFIXES = {".yaml", ".yml", ".tpl", ".tftpl", ".sh", ".json"}
MAX_SCAN_BYTES = 512 * 1024
_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")


def build(ev: Evaluation, config: CheckConfig) -> list[Deployment]:
    computes = find_compute(ev)
    compute_blocks = {id(c.resource.block) for c in computes}
    boot: dict[int, list[Served]] = {}
    for compute in computes:
        boot[id(compute)] = list(_boot_served(compute))
    found = Found()
    for res, part in _other_blocks(ev, compute_blocks):
        found.extend(part)
        computes.extend(_karpenter_computes(res, part.karpenter))
    for path, text in _module_files(ev):
        part = scan_text(text, str(path), 1, path.name, exact=True)
        found.extend(part)
        computes.extend(_karpenter_computes(None, part.karpenter, ev, path))
    signatures = {_signature(s) for items in boot.values() for s in items}
    loose = [s for s in _dedupe(found.served) if _signature(s) not in signatures]
    deployments: list[Deployment] = []
    used: set[int] = set()
    for compute in computes:
        for served in boot.get(id(compute), []):
            deployments.append(_deployment(ev, config, compute, served))
            used.add(id(compute))
    for served in loose:
        target = _match(served, computes)
        if target is not None:
            used.add(id(target))
        deployments.append(_deployment(ev, config, target, served))
    for compute in computes:
        if id(compute) not in used:
            deployments.append(_deployment(ev, config, compute, None))
    neighbours = loose + [s for items in boot.values() for s in items]
    for dep in deployments:
        dep.neighbours = neighbours
    return deployments


def _deployment(ev: Evaluation, config: CheckConfig, compute: Compute | None,
                served: Served | None) -> Deployment:
    labels = compute.labels if compute is not None else {}
    intent = intent_from_labels(labels).over(config.defaults)
    return Deployment(compute, served, intent, _region(ev, compute))


def _boot_served(compute: Compute) -> Iterator[Served]:
    metadata = {k: v for k, v in compute.metadata.items()}
    for text in compute.boot:
        yield from scan_text(text.text, text.file, text.line, compute.address, metadata,
                             exact=text.exact).served
    for key, value in compute.metadata.items():
        # Other metadata (gce-container-declaration, cloud-init user-data) may hold a spec.
        if isinstance(value, str) and key not in ("startup-script", "user-data"):
            yield from scan_text(value, compute.file, compute.resource.line_of("metadata"),
                                 compute.address, metadata).served


def _block_text(ev: Evaluation, block: Block) -> str:
    text = ev.module.texts.get(Path(block.file), "")
    lines = text.splitlines()
    return "\n".join(lines[max(0, block.line - 1):block.end_line or len(lines)])


def _other_blocks(ev: Evaluation, skip: set[int]) -> Iterator[tuple[Resource | None, Found]]:
    """Serving workloads in resources, data sources, module calls and locals of the module."""
    for kind in ("resource", "data", "module"):
        for block in ev.module.blocks(kind, text=HINT):
            if id(block) in skip or not HINT.search(_block_text(ev, block)):
                continue
            for res in ev.instances(block):
                found = Found()
                for name, value in res.values.items():
                    found.extend(scan_value(value, res.file, res.line_of(name), res.address))
                yield res, found
                break  # one instance shows what every count/for_each copy runs
    for block in _locals_blocks(ev):
        for name, attr in block.attributes.items():
            text = "\n".join(ev.module.texts.get(Path(attr.file), "").splitlines()[
                attr.line - 1:attr.line + 400])
            if not HINT.search(text[:20000]):
                continue
            value = ev.value(attr.node)
            yield None, scan_value(value, attr.file, attr.line, f"local.{name}")


def _locals_blocks(ev: Evaluation) -> list[Block]:
    out: list[Block] = []
    for path, text in ev.module.texts.items():
        if "locals" in text and HINT.search(text):
            out += [b for b in ev.module.parsed(path).blocks if b.type == "locals"]
    return out


def _module_files(ev: Evaluation) -> Iterator[tuple[Path, str]]:
    """Manifests and scripts shipped next to the module (not read through file() already)."""
    directory = ev.module.directory
    read = {p.resolve() for p in ev.files_read}
    for path in _files_below(directory, depth=2):
        if path.resolve() in read:
            continue
        try:
            if path.stat().st_size > MAX_SCAN_BYTES:
                continue
        except OSError:
            continue
        text, _ = read_text(path)
        if text and HINT.search(text):
            yield path, text


def _files_below(directory: Path, depth: int) -> Iterator[Path]:
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_file() and entry.suffix in SCAN_SUFFIXES:
            yield entry
        elif entry.is_dir() and depth > 0 and not entry.name.startswith(".") and not any(
                p.suffix == ".tf" for p in entry.iterdir() if p.is_file()):
            yield from _files_below(entry, depth - 1)


def _signature(s: Served) -> tuple[Any, ...]:
    def plain(v: Any) -> Any:
        return str(v) if isinstance(v, Unknown) else v

    return (s.server, s.engine, plain(s.model), plain(s.tp), plain(s.pp), plain(s.context))


def _dedupe(items: Iterable[Served]) -> list[Served]:
    out: dict[tuple[Any, ...], Served] = {}
    for s in items:
        out.setdefault(_signature(s) + (s.file, s.line), s)
    return list(out.values())


def _match(served: Served, computes: list[Compute]) -> Compute | None:
    for c in computes:
        if c.kind == "sagemaker" and _sagemaker_link(c, served):
            return c
    for key, value in served.node_selector.items():
        for c in computes:
            if c.labels.get(key) == value or (key in _TYPE_LABELS and isinstance(
                    c.instance_type, str) and c.instance_type.lower() == value.lower()):
                return c
    gpu = [c for c in computes if c.kind != "sagemaker" and (c.has_gpus or c.gpu)]
    types = {str(c.instance_type).lower() for c in gpu}
    if gpu and len(types) == 1 and served.origin and not served.origin.startswith("aws_sagemaker"):
        return gpu[0]
    return None


def _sagemaker_link(compute: Compute, served: Served) -> bool:
    ref = compute.metadata.get("model_name")
    source = ref.source if isinstance(ref, Unknown) else (as_text(ref) or "")
    return bool(served.origin) and served.origin.split("[")[0] in source


def _karpenter_computes(res: Resource | None, pools: list[dict[str, Any]],
                        ev: Evaluation | None = None, path: Path | None = None
                        ) -> Iterator[Compute]:
    for pool in pools:
        types = list(pool.get("types", []))
        for family in pool.get("families", []):
            sizes = pool.get("sizes") or ["xlarge"]
            types += [f"{family}.{size}" for size in sizes]
        specs = [s for s in (lookup("aws", t) for t in types) if s is not None]
        gpus = {s.gpu for s in specs if s.gpu}
        if not gpus:
            continue
        counts = {s.gpu_count for s in specs}
        owner = res if res is not None else _file_resource(path)
        families = ", ".join(pool.get("families", [])) or ", ".join(types[:3])
        compute = Compute(
            cloud="aws", kind="karpenter", address=f"{owner.address} (Karpenter pool)",
            resource=owner, file=str(pool.get("file", owner.file)),
            line=int(pool.get("line", owner.line)), instance_type=f"{families} family",
            type_line=int(pool.get("line", owner.line)),
            gpu=next(iter(gpus)) if len(gpus) == 1 else None,
            gpu_count=next(iter(counts)) if len(counts) == 1 else None,
            spot="spot" in [str(t).lower() for t in pool.get("capacity_types", ["on-demand"])],
            labels=dict(pool.get("labels", {})),
        )
        compute.spot_line = compute.line
        yield compute


def _file_resource(path: Path | None) -> Resource:
    block = Block("file", (), {}, [], str(path), 1, 1)
    name = path.name if path is not None else "?"
    return Resource("file", "file", name, name, str(path), 1, {}, {}, block)


def _region(ev: Evaluation, compute: Compute | None) -> str | None:
    if compute is None:
        return None
    values = compute.resource.values
    if compute.cloud == "gcp":
        for key in ("region", "zone", "location"):
            value = values.get(key)
            if isinstance(value, str) and "${" not in value:
                return re.sub(r"-[a-z]$", "", value)
    if compute.cloud == "azure":
        value = values.get("location")
        if isinstance(value, str) and "${" not in value:
            return value.replace(" ", "").lower()
    provider = {"aws": "aws", "gcp": "google", "azure": "azurerm"}[compute.cloud]
    for block in ev.module.provider_blocks(provider):
        if "alias" in block.attributes or "region" not in block.attributes:
            continue
        region = ev.value(block.attributes["region"].node)
        if isinstance(region, str) and "${" not in region:
            return region
    return None
