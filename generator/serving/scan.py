"""Find engine invocations in boot scripts, manifests and container specs.

Three kinds of input, all reduced to :class:`~llmplan.serving.served.Served` records:

- shell text (user data, startup scripts, ``sh -c`` commands): shell variables and arrays are
  expanded (a ``$(...)`` that reads an instance-metadata key takes that key's Terraform value),
  then ``vllm serve``, ``python -m sglang.launch_server``, ``text-generation-launcher``,
  ``trtllm-serve`` and ``docker run <engine image>`` are read;
- structures (evaluated HCL values, YAML documents, JSON): container specs (image + command/args/
  env + GPU requests), engine-args objects (Triton's vLLM ``model.json``), serving stacks
  (RayService, InferenceService) and Karpenter node-pool requirements;
- text that is YAML or base64 is decoded first.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmplan.serving.served import ENV, Served, apply_args, apply_env, coerce
from llmplan.terraform.values import Unknown, as_int, as_text

HINT = re.compile(r"vllm|sglang|text-generation|trtllm|tensorrt|tritonserver|tensor[_-]parallel|"
                  r"num[_-]shard|nvidia\.com/gpu|karpenter|rayservice|inferenceservice|nvcr\.io/nim|"
                  r"sm_num_gpus|hf_model_id|model_id", re.I)

# Container images -> (engine, display, args are engine flags).
IMAGES: list[tuple[re.Pattern[str], str | None, str, bool]] = [
    (re.compile(r"(^|/)vllm-openai(:|$)|(^|/)vllm/vllm|/vllm-tpu", re.I), "vllm", "vLLM", True),
    (re.compile(r"(^|/)lmsysorg/sglang(:|$)|(^|/)sglang(:|$)", re.I), "sglang", "SGLang", True),
    (re.compile(r"text-generation-inference|tgi-inference", re.I), "tgi", "TGI", True),
    (re.compile(r"tritonserver:[^\s]*vllm", re.I), "vllm", "Triton (vLLM backend)", False),
    (re.compile(r"tensorrt-llm|trtllm", re.I), "trtllm", "TensorRT-LLM", True),
    (re.compile(r"nvcr\.io/nim/", re.I), None, "NVIDIA NIM", False),
    (re.compile(r"tritonserver", re.I), None, "Triton", False),
]

# Programs -> (engine, display, model may be positional).
PROGRAMS = {
    "vllm.entrypoints.openai.api_server": ("vllm", "vLLM", False),
    "vllm.entrypoints.api_server": ("vllm", "vLLM", False),
    "sglang.launch_server": ("sglang", "SGLang", False),
    "text-generation-launcher": ("tgi", "TGI", False),
    "trtllm-serve": ("trtllm", "TensorRT-LLM", True),
}
_SEPARATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", "(", ")", "\n"}
_CONTAINER_KEYS = {"command", "args", "env", "environment", "resources", "entryPoint",
                   "resource_requirements", "resourceRequirements", "secretEnvironment"}
_VLLM_ARG_KEYS = {"tensor_parallel_size", "pipeline_parallel_size", "gpu_memory_utilization",
                  "max_model_len", "max_num_seqs"}


@dataclass
class Found:
    """What a scan turned up: engine invocations, Karpenter pools, serving stacks."""

    served: list[Served] = field(default_factory=list)
    karpenter: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Found) -> None:
        self.served.extend(other.served)
        self.karpenter.extend(other.karpenter)


@dataclass
class _Where:
    file: str
    line: int
    origin: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    group_size: int | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    exact: bool = False  # line is the text's first line, so offsets inside it are real lines

    def at(self, offset: int) -> _Where:
        """This place moved ``offset`` lines into the text (when lines are exact)."""
        if not self.exact or offset == 0:
            return self
        return _Where(self.file, self.line + offset, self.origin, self.metadata,
                      self.group_size, self.node_selector, False)


def _line_of(text: str, needle: str | None) -> int:
    """0-based line of the first occurrence of ``needle`` in ``text`` (0 when absent)."""
    if not needle:
        return 0
    index = text.find(needle)
    return text.count("\n", 0, index) if index >= 0 else 0


def _image_engine(image: str) -> tuple[str | None, str, bool] | None:
    for pattern, engine, display, flags in IMAGES:
        if pattern.search(image):
            return engine, display, flags
    return None


# --- text


def scan_text(text: str, file: str, line: int, origin: str,
              metadata: Mapping[str, Any] | None = None, exact: bool = False) -> Found:
    """Engine invocations in one text: a script, a manifest, or base64 of either.

    ``exact``: ``line`` is where the text's first line sits in ``file`` (a heredoc body, a
    script file), so findings point at the line of the command itself."""
    where = _Where(file, line, origin, metadata or {}, exact=exact)
    return _scan_text(text, where, depth=0)


def _scan_text(text: str, where: _Where, depth: int) -> Found:
    found = Found()
    if depth > 4 or not text:
        return found
    decoded = _maybe_base64(text)
    if decoded is not None:
        return _scan_text(decoded, where, depth + 1)
    if not HINT.search(text):
        return found
    docs = _json_doc(text) or _yaml_docs(text)
    if docs:
        inner = _Where(where.file, where.line, where.origin, where.metadata, where.group_size,
                       where.node_selector)
        for doc in docs:
            part = _walk(doc, inner, depth + 1)
            for served in part.served:
                if where.exact:
                    served.line = where.line + _line_of(text, served.image or served.server)
            found.extend(part)
        return found
    found.served.extend(_merge_same_engine(_shell(text, where) + _json_args(text, where)))
    return found


def _maybe_base64(text: str) -> str | None:
    stripped = text.strip()
    if len(stripped) < 16 or not re.fullmatch(r"[A-Za-z0-9+/=\s]+", stripped):
        return None
    try:
        raw = base64.b64decode(stripped, validate=False)
        decoded = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in decoded)
    return decoded if decoded and printable / len(decoded) > 0.95 else None


def _json_doc(text: str) -> list[Any]:
    """A JSON text (jsonencode'd container definitions) as one document, else []."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return []
    try:
        return [json.loads(stripped)]
    except ValueError:
        return []


def _yaml_docs(text: str) -> list[Any]:
    """YAML documents holding mappings, or [] when the text is not YAML (a script)."""
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(
        "#")), "")
    if not (first.startswith("---") or re.match(r"^\s*[\w.\-/\"']+\s*:(\s|$)", first)
            or first.lstrip().startswith("- ")):
        return []
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        docs = [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.YAMLError:
        return []
    return docs if any(isinstance(d, dict | list) for d in docs) else []


def _merge_same_engine(items: list[Served]) -> list[Served]:
    """One script runs one deployment: sightings of the same engine are merged."""
    merged: dict[str, Served] = {}
    for item in items:
        key = item.engine or item.server
        if key in merged:
            if merged[key].server != item.server and item.server.startswith("Triton"):
                merged[key].server = item.server
            merged[key].merge(item)
        else:
            merged[key] = item
    return list(merged.values())


_ASSIGN = re.compile(r"^(?:export\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)*)?"
                     r"([A-Za-z_]\w*)(\+?)=(.*)$")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(0-based first line, text) of each command: continuations joined, arrays gathered."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1] + " " + lines[i]
        match = _ASSIGN.match(line.strip())
        if match and match.group(3).startswith("(") and ")" not in match.group(3):
            # A multi-line bash array: gather it up to its closing parenthesis.
            while i + 1 < len(lines) and ")" not in lines[i]:
                i += 1
                line += " " + re.sub(r"#.*$", "", lines[i])
        yield start, line
        i += 1


def _shell(text: str, where: _Where) -> list[Served]:
    scalars: dict[str, str] = {}
    arrays: dict[str, list[str]] = {}
    out: list[Served] = []
    for offset, raw in _logical_lines(text):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ASSIGN.match(line)
        if match:
            _assign(match, scalars, arrays, where)
            continue
        tokens = _split(_expand(line, scalars, arrays))
        out.extend(_invocations(tokens, where.at(offset)))
    return out


def _assign(match: re.Match[str], scalars: dict[str, str], arrays: dict[str, list[str]],
            where: _Where) -> None:
    name, append, rhs = match.group(1), match.group(2), match.group(3).strip()
    if rhs.startswith("(") and rhs.endswith(")"):
        items = _split(_expand(rhs[1:-1], scalars, arrays))
        arrays[name] = (arrays.get(name, []) if append else []) + items
        return
    if rhs.startswith("$("):
        value = _metadata_lookup(rhs, where.metadata)
        if value is not None:
            scalars[name] = value
        else:
            scalars.pop(name, None)
        return
    words = _split(_expand(rhs, scalars, arrays))
    scalars[name] = words[0] if len(words) == 1 else " ".join(words)


def _metadata_lookup(rhs: str, metadata: Mapping[str, Any]) -> str | None:
    """``$(get_metadata "model-name" ...)``: the value Terraform gives that metadata key."""
    for word in re.findall(r"[\w.\-/]+", rhs):
        key = word.rsplit("/", 1)[-1]
        if key in metadata:
            text = as_text(metadata[key])
            return text if text is not None else None
    return None


_VAR = re.compile(r'"?\$\{(\w+)\[[@*]\]\}"?|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)')


def _expand(text: str, scalars: Mapping[str, str], arrays: Mapping[str, list[str]]) -> str:
    def sub(match: re.Match[str]) -> str:
        if match.group(1):
            items = arrays.get(match.group(1))
            return " ".join(shlex.quote(i) for i in items) if items is not None \
                else match.group(0)
        name = match.group(2) or match.group(4)
        if name in scalars:
            return shlex.quote(scalars[name]) if not match.group(0).startswith('"') \
                else scalars[name]
        if match.group(3) is not None:
            return match.group(3)
        return "${" + name + "}"

    return _VAR.sub(sub, text)


def _split(text: str) -> list[str]:
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:
        return text.split()


def _invocations(tokens: list[str], where: _Where) -> Iterator[Served]:
    i = 0
    while i < len(tokens):
        token = tokens[i]
        base = token.rsplit("/", 1)[-1]
        served: Served | None = None
        args_from = i + 1
        positional = False
        if base == "vllm" and i + 1 < len(tokens) and tokens[i + 1] == "serve":
            served, args_from, positional = Served("vLLM", "vllm"), i + 2, True
        elif base in PROGRAMS or token in PROGRAMS:
            engine, display, positional = PROGRAMS.get(base) or PROGRAMS[token]
            served = Served(display, engine)
            if engine == "trtllm" and args_from < len(tokens) and tokens[args_from] == "serve":
                args_from += 1
        else:
            hit = _image_engine(token) if "/" in token or ":" in token else None
            if hit is not None and _after_run(tokens, i):
                image_engine, display, flags = hit
                served = Served(display, image_engine, image=token)
                positional = image_engine == "vllm"
                _docker_options(served, tokens[:i])
                if not flags:
                    args_from = len(tokens)
        if served is None:
            i += 1
            continue
        args = []
        for arg in tokens[args_from:]:
            if arg in _SEPARATORS:
                break
            args.append(arg)
        apply_args(served, args, positional)
        _locate(served, where)
        yield served
        i = args_from + len(args)


def _after_run(tokens: list[str], i: int) -> bool:
    """An image name counts only as the image of a ``docker run`` or a ``FROM`` line."""
    head = tokens[:i]
    return any(t in ("run", "create") for t in head) or (bool(head) and head[-1].upper()
                                                         == "FROM")


def _docker_options(served: Served, head: list[str]) -> None:
    env: dict[str, str] = {}
    for j, token in enumerate(head):
        value = head[j + 1] if j + 1 < len(head) else ""
        if token == "--gpus":
            served.gpus = _gpu_option(value)
        elif token.startswith("--gpus="):
            served.gpus = _gpu_option(token.split("=", 1)[1])
        elif token in ("-e", "--env") and "=" in value:
            k, _, v = value.partition("=")
            env[k] = v
    apply_env(served, env)


def _gpu_option(value: str) -> Any:
    value = value.strip("'\"")
    if value == "all":
        return None
    if value.startswith("device="):
        return len([d for d in value[len("device="):].split(",") if d])
    number = as_int(value)
    return number if number is not None else Unknown(value)


def _json_args(text: str, where: _Where) -> list[Served]:
    """Engine-args JSON written by a script (Triton's vLLM ``model.json``)."""
    if not any(k in text for k in _VLLM_ARG_KEYS):
        return []
    out = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text[match.start():])
        except ValueError:
            continue
        if isinstance(obj, dict):
            served = _engine_args(obj, where.at(text.count("\n", 0, match.start())))
            if served is not None:
                out.append(served)
    return out


def _engine_args(obj: Mapping[str, Any], where: _Where) -> Served | None:
    keys = {str(k).lower() for k in obj}
    if "model" not in keys or not keys & _VLLM_ARG_KEYS:
        return None
    served = Served("Triton (vLLM backend)", "vllm")
    apply_env(served, obj)
    _locate(served, where)
    return served


def _locate(served: Served, where: _Where) -> None:
    served.file, served.line, served.origin = where.file, where.line, where.origin
    if where.group_size and served.group_size is None:
        served.group_size = where.group_size
    served.node_selector = {**where.node_selector, **served.node_selector}


# --- structures


def scan_value(value: Any, file: str, line: int, origin: str,
               metadata: Mapping[str, Any] | None = None) -> Found:
    """Engine invocations anywhere in an evaluated HCL value (or a parsed YAML/JSON doc)."""
    return _walk(value, _Where(file, line, origin, metadata or {}), depth=0)


def _walk(value: Any, where: _Where, depth: int) -> Found:
    found = Found()
    if depth > 40:
        return found
    if isinstance(value, str):
        return _scan_text(value, where, depth + 1) if len(value) > 8 else found
    if isinstance(value, list):
        for item in value:
            found.extend(_walk(item, where, depth + 1))
        return found
    if not isinstance(value, dict):
        return found
    where = _narrow(value, where)
    served = _container(value, where) or _engine_args(value, where) or _stack(value, where)
    if served is not None:
        found.served.append(served)
    pool = _karpenter(value)
    if pool is not None:
        found.karpenter.append({**pool, "file": where.file, "line": where.line})
    for key, item in value.items():
        if served is not None and key in ("command", "args", "env", "environment"):
            continue
        found.extend(_walk(item, where, depth + 1))
    return found


def _narrow(value: Mapping[str, Any], where: _Where) -> _Where:
    """Carry pod-level facts (LeaderWorkerSet size, nodeSelector) down to the containers."""
    group = where.group_size
    lws = value.get("leaderWorkerTemplate")
    if isinstance(lws, dict):
        group = as_int(lws.get("size")) or group
    selector = value.get("nodeSelector")
    if group == where.group_size and not isinstance(selector, dict):
        return where
    labels = dict(where.node_selector)
    if isinstance(selector, dict):
        labels.update({str(k): str(v) for k, v in selector.items()})
    return _Where(where.file, where.line, where.origin, where.metadata, group, labels,
                  where.exact)


def _image_text(image: Any) -> str | None:
    if isinstance(image, str):
        return image
    if isinstance(image, dict) and isinstance(image.get("repository"), str):
        tag = image.get("tag")
        return f"{image['repository']}:{tag}" if tag is not None else image["repository"]
    return None


def _container(value: Mapping[str, Any], where: _Where) -> Served | None:
    image = _image_text(value.get("image"))
    if image is None or not (set(value) & _CONTAINER_KEYS):
        return None
    argv = _argv(value.get("entryPoint")) + _argv(value.get("command")) + _argv(value.get("args"))
    served = _from_argv(argv, where)
    hit = _image_engine(image)
    if served is None and hit is not None:
        engine, display, flags = hit
        served = Served(display, engine)
        if flags:
            apply_args(served, argv, positional_model=engine == "vllm")
    if served is None:
        return None
    served.image = image
    env = _env(value.get("env")) or _env(value.get("environment"))
    if served.engine is None and any(k.lower() in ENV["tgi"] for k in env) and re.search(
            r"tgi|text-generation", image, re.I):
        served.engine, served.server = "tgi", "TGI"
    apply_env(served, env)
    served.gpus = _gpu_request(value) if served.gpus is None else served.gpus
    _locate(served, where)
    if isinstance(value.get("nodeSelector"), dict):
        served.node_selector.update({str(k): str(v) for k, v in value["nodeSelector"].items()})
    return served


def _argv(value: Any) -> list[str]:
    if isinstance(value, str):
        return _split(value)
    if isinstance(value, list):
        return [str(as_text(v) if as_text(v) is not None else v) for v in value]
    return []


def _from_argv(argv: list[str], where: _Where) -> Served | None:
    """A container command: either engine argv directly, or a shell script (``sh -c``)."""
    if not argv:
        return None
    direct = list(_invocations(argv, where))
    if direct:
        return direct[0]
    for j, token in enumerate(argv):
        if token in ("-c", "-lc", "-ec") and j + 1 < len(argv):
            script = " ".join(a for a in argv[j + 1:] if a != "--")
            found = _shell(script, where)
            if found:
                return _merge_same_engine(found)[0]
    return None


def _env(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    out: dict[str, Any] = {}
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and "name" in item:
                out[str(item["name"])] = item.get("value")
    return out


def _gpu_request(value: Mapping[str, Any]) -> Any:
    resources = value.get("resources")
    if isinstance(resources, dict):
        for part in ("limits", "requests"):
            section = resources.get(part)
            if isinstance(section, dict) and "nvidia.com/gpu" in section:
                return coerce("tp", section["nvidia.com/gpu"])
    for key in ("resource_requirements", "resourceRequirements"):
        items = value.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and str(item.get("type", "")).upper() == "GPU":
                return coerce("tp", item.get("value"))
    return None


def _stack(value: Mapping[str, Any], where: _Where) -> Served | None:
    """Serving stacks we recognise but cannot size (RayService, KServe InferenceService)."""
    kind = value.get("kind")
    if kind == "RayService" or (isinstance(value.get("serveConfig"), dict | str)
                                or "serveConfigV2" in value):
        served = Served("Ray Serve")
    elif kind == "InferenceService":
        served = Served("KServe")
    else:
        return None
    _locate(served, where)
    return served


def _karpenter(value: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Karpenter NodePool's instance requirements and capacity types."""
    requirements = value.get("requirements")
    if not isinstance(requirements, list):
        return None
    pool: dict[str, Any] = {}
    for req in requirements:
        if not isinstance(req, dict) or str(req.get("operator", "In")) != "In":
            continue
        key, values = str(req.get("key", "")), req.get("values")
        if not isinstance(values, list):
            continue
        texts = [str(v) for v in values]
        if key == "karpenter.sh/capacity-type":
            pool["capacity_types"] = texts
        elif key == "karpenter.k8s.aws/instance-family":
            pool["families"] = texts
        elif key == "karpenter.k8s.aws/instance-size":
            pool["sizes"] = texts
        elif key in ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"):
            pool["types"] = texts
    if not pool or not ({"families", "types"} & set(pool)):
        return None
    labels = value.get("labels")
    if isinstance(labels, list):
        pool["labels"] = {str(k): str(v) for item in labels if isinstance(item, dict)
                          for k, v in item.items()}
    elif isinstance(labels, dict):
        pool["labels"] = {str(k): str(v) for k, v in labels.items()}
    return pool
