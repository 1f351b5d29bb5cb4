"""A Deployment rendered as Terraform: one self-contained main.tf, or a module folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmplan.render.boot import BOOT_FILE, Mode, boot_expression, render_boot
from llmplan.render.clouds import renderer
from llmplan.render.deployment import Deployment
from llmplan.render.roles import BootVars
from llmplan.render.templates import environment

MODULE_FILES = ("versions.tf", "variables.tf", "main.tf", "outputs.tf")


@dataclass(frozen=True)
class Rendered:
    """The files of one rendering, by name."""

    files: dict[str, str]

    @property
    def main_tf(self) -> str:
        return self.files["main.tf"]


def render(d: Deployment, mode: Mode = "inline") -> Rendered:
    """Render ``d`` as one self-contained main.tf (``inline``) or a module folder (``module``)."""
    cloud = renderer(d.cloud)
    role_vars = cloud.boot_vars(d)
    body = _boot_body(d)
    boot = {role: boot_expression(mode, v, body) for role, v in role_vars.items()}
    ctx: dict[str, Any] = cloud.context(d)
    ctx.update(d=d, boot=boot, mode=mode, launch=d.launch)
    env = environment()
    parts = {f: env.get_template(f"{d.cloud}/{f}.j2").render(**ctx) for f in MODULE_FILES}
    if mode == "module":
        names = next(iter(role_vars.values())).keys()
        files = dict(parts)
        files[BOOT_FILE] = render_boot(d, {k: k for k in names})
        files["README.md"] = env.get_template("common/README.md.j2").render(
            d=d, launch=d.launch, boot_file=BOOT_FILE
        )
        return Rendered(files)
    header = env.get_template("common/header.tf.j2").render(d=d, launch=d.launch)
    joined = header + "\n".join(parts[f].strip("\n") + "\n" for f in MODULE_FILES)
    return Rendered({"main.tf": joined})


def _boot_body(d: Deployment) -> Callable[[BootVars], str]:
    def body(refs: BootVars) -> str:
        return render_boot(d, refs)

    return body
