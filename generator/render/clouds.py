"""Which module renders which cloud: the typed registry, and the source of the cloud list.

A cloud renderer is a module (or object) with ``boot_vars`` and ``context``, and optionally
``boot_discovery`` and ``container_options``. The three built-in clouds are listed here; a plugin
cloud registers its renderer in the ``llmplan.renderers`` entry-point group, beside its price
provider in ``llmplan.providers``, so nothing in the core changes for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, cast

from llmplan.errors import UsageError
from llmplan.vocabulary import BUILTIN_CLOUDS

if TYPE_CHECKING:
    from llmplan.render.deployment import Deployment

ENTRY_POINT_GROUP = "llmplan.renderers"


class CloudRenderer(Protocol):
    """What :func:`llmplan.render.terraform.render` asks of a cloud."""

    def boot_vars(self, d: Deployment) -> Mapping[str, Mapping[str, str]]:
        """The boot script's variables (HCL expressions) per node role."""
        ...

    def context(self, d: Deployment) -> dict[str, Any]:
        """The values the cloud's templates lay out, decided here rather than in Jinja."""
        ...


@cache
def _plugins() -> dict[str, str]:
    return {ep.name.lower(): ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def cloud_names() -> tuple[str, ...]:
    """Every cloud llmplan can render: the built-in three first, then plugins."""
    extra = sorted(n for n in _plugins() if n not in BUILTIN_CLOUDS)
    return (*BUILTIN_CLOUDS, *extra)


@cache
def renderer(cloud: str) -> CloudRenderer:
    """The renderer of ``cloud``; an unknown cloud is a one-line error."""
    if cloud in BUILTIN_CLOUDS:
        return cast(CloudRenderer, import_module(f"llmplan.render.{cloud}"))
    target = _plugins().get(cloud.lower())
    if target is None:
        raise UsageError(f"no Terraform templates for cloud '{cloud}' "
                         f"(renderable: {', '.join(cloud_names())})")
    module, _, attr = target.partition(":")
    loaded = import_module(module)
    return cast(CloudRenderer, getattr(loaded, attr) if attr else loaded)


def boot_discovery(d: Deployment) -> str | None:
    """The template that finds rank and head at boot, for clouds whose nodes must (else None)."""
    hook = getattr(renderer(d.cloud), "boot_discovery", None)
    return hook(d) if hook is not None else None


def container_options(d: Deployment) -> tuple[str, ...]:
    """Extra ``docker run`` options the cloud's nodes need for this deployment (default none)."""
    hook = getattr(renderer(d.cloud), "container_options", None)
    return tuple(hook(d)) if hook is not None else ()
