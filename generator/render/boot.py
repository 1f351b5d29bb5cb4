"""The boot script: the engine's containers started by cloud-init / startup script / custom data.

One template (``common/boot.sh.j2``) for every cloud; a cloud adds its variables, container
options and, where nodes find each other at boot, a discovery part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from llmplan.engines.launch import ShellVar, docker_run, shell_line
from llmplan.render.clouds import boot_discovery, container_options
from llmplan.render.deployment import Deployment
from llmplan.render.escape import heredoc, sh, sh_from_tf, template_escape
from llmplan.render.roles import BASE_BOOT_VARS, BootVars
from llmplan.render.templates import environment

# ``inline``: one self-contained main.tf; ``module``: a folder with the boot script as a file.
Mode = Literal["inline", "module"]
BOOT_FILE = "boot.sh.tftpl"


def boot_expression(mode: Mode, role_vars: BootVars, body: Callable[[BootVars], str]) -> str:
    """The HCL expression giving one node role's boot script.

    ``module``: ``templatefile()`` over the shipped ``boot.sh.tftpl`` with this role's variables.
    ``inline``: the same template text as a heredoc, its variables replaced by the expressions.
    """
    if mode == "module":
        pairs = ", ".join(f"{k} = {v}" for k, v in role_vars.items())
        return f'templatefile("${{path.module}}/{BOOT_FILE}", {{ {pairs} }})'
    return heredoc(body(role_vars))


def render_boot(d: Deployment, refs: Mapping[str, str]) -> str:
    """The boot script as Terraform template text; ``refs`` maps each variable to an expression."""
    words = {k: sh_from_tf(v) for k, v in refs.items()}
    # The node rank is a number Terraform computes (count.index): no quoting needed or possible.
    rank = "'${" + refs["node_rank"] + "}'"
    template = environment().get_template("common/boot.sh.j2")
    return template.render(
        d=d,
        launch=d.launch,
        tf=words,
        rank=rank,
        docker=_docker_lines(d),
        extra=[k for k in refs if k not in BASE_BOOT_VARS],
        # A cloud may find the rank and head at boot instead (scale sets have no per-node values).
        discovery=boot_discovery(d),
        verify=verify_step(d, "region" in refs) if d.verify else None,
    )


VERIFY_TOLERANCE_PCT = 10


def verify_step(d: Deployment, region_var: bool) -> dict[str, str]:
    """``generate --verify``: the node script's source (written to the node verbatim, Terraform's
    template sequences escaped) and its shell-quoted arguments: the plan's figures per replica."""
    from pathlib import Path

    from llmplan.verify import node

    source = Path(node.__file__).read_text(encoding="utf-8")
    args = [
        "--engine", d.engine,
        "--ports", ",".join(str(p) for p in d.launch.ports),
        "--context", str(d.context),
        "--kv-tokens", str(d.kv_tokens_per_replica),
        "--demand", f"{d.concurrency / d.replicas:g}",
        "--tolerance", str(VERIFY_TOLERANCE_PCT),
        "--cloud", d.cloud,
    ]
    line = " ".join(sh(a) for a in args)
    if region_var:
        line += ' --region "$REGION"'  # the boot script's own variable (AWS: var.region)
    return {"source": template_escape(source.rstrip("\n")), "args": line}


def _docker_lines(d: Deployment) -> dict[str, Any]:
    image = ShellVar("ENGINE_IMAGE")
    multi = d.nodes_per_replica > 1
    extra = container_options(d)
    head = [shell_line(docker_run(c, image, network_host=multi, extra=extra))
            for c in d.launch.head]
    worker = [shell_line(docker_run(c, image, network_host=multi, extra=extra))
              for c in d.launch.worker]
    exec_line = ""
    if d.launch.head_exec:
        exec_line = shell_line(
            [
                "docker",
                "exec",
                "-d",
                "-e",
                "HF_TOKEN",
                "-e",
                "HUGGING_FACE_HUB_TOKEN",
                d.launch.head[0].name,
                *d.launch.head_exec,
            ]
        )
    names = [c.name for c in (*d.launch.head, *d.launch.worker)]
    return {
        "head": [template_escape(x) for x in head],
        "worker": [template_escape(x) for x in worker],
        "exec": template_escape(exec_line),
        "names": " ".join(sh(n) for n in dict.fromkeys(names)),
        "gpus_per_replica": d.tensor_parallel * d.pipeline_parallel,
    }
