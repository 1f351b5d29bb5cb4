"""The shared Terraform reader (llmplan.terraform.module): parsing, static evaluation, records."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from llmplan.terraform.evaluation import Evaluation
from llmplan.terraform.files import group_paths, scan_files
from llmplan.terraform.module import Module
from llmplan.terraform.syntax import parse_text
from llmplan.terraform.values import Unknown, is_known


def _module(tmp_path: Path, files: dict[str, str]) -> Module:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Module(tmp_path, tmp_path)


def _values(tmp_path: Path, body: str, extra: dict[str, str] | None = None,
            var_files: tuple[str, ...] = ()) -> dict[str, object]:
    module = _module(tmp_path, {"main.tf": f'resource "x_thing" "r" {{\n{body}\n}}\n', **(extra or {})})
    evaluation = Evaluation(module, [tmp_path / f for f in var_files])
    (record,) = evaluation.resources()
    return record.values


def test_lines_of_blocks_and_attributes() -> None:
    parsed = parse_text('\n\nresource "aws_instance" "a" {\n  ami = "x"\n\n  tags = {}\n}\n', "m.tf")
    (block,) = parsed.blocks
    assert (block.type, block.labels, block.line) == ("resource", ("aws_instance", "a"), 3)
    assert block.attributes["ami"].line == 4 and block.attributes["tags"].line == 6


def test_duplicate_keys_are_reported() -> None:
    text = 'module "eks" {\n  groups = {\n    a = {\n      min_size = 2\n      min_size = 4\n    }\n  }\n}\n'
    (dup,) = parse_text(text, "eks.tf").duplicates
    assert (dup.key, dup.line, dup.first_line) == ("min_size", 5, 4)


def test_syntax_error_is_a_failure_with_a_line() -> None:
    parsed = parse_text('resource "a" "b" {\n  x = = 1\n}\n', "bad.tf")
    assert parsed.failure is not None and parsed.failure.line == 2
    assert parsed.blocks == []


def test_variables_defaults_tfvars_and_precedence(tmp_path: Path) -> None:
    values = _values(tmp_path, "  a = var.a\n  b = var.b\n  c = var.c\n  d = var.d", {
        "vars.tf": 'variable "a" { default = "default" }\nvariable "b" { default = 1 }\n'
                   'variable "c" {}\nvariable "d" { default = "d" }\n',
        "terraform.tfvars": 'a = "tfvars"\nd = "tfvars"\n',
        "z.auto.tfvars": 'a = "auto"\n',
        "prod.tfvars": 'd = "prod"\n',
    }, var_files=("prod.tfvars",))
    assert values["a"] == "auto" and values["b"] == 1 and values["d"] == "prod"
    assert isinstance(values["c"], Unknown)


def test_locals_templates_heredocs_and_functions(tmp_path: Path) -> None:
    values = _values(tmp_path, """
  name   = "${local.prefix}-${var.env}"
  script = <<-EOT
    #!/bin/bash
    echo "${local.prefix}" $${HOME}
  EOT
  encoded = base64encode("hi ${var.env}")
  tpl     = templatefile("${path.module}/boot.sh.tftpl", { model = "m", tp = 2 })
  looked  = lookup({ a = 1 }, "b", 3)
  tried   = try(var.missing.x, "fallback")
  merged  = merge({ a = 1 }, { b = 2 })
  listed  = [for s in ["a", "b"] : upper(s) if s != "b"]
  cond    = var.env == "prod" ? "big" : "small"
  math    = 2 * 3 + 1
  joined  = join(",", ["x", "y"])
""", {
        "vars.tf": 'variable "env" { default = "prod" }\nlocals { prefix = "llm" }\n',
        "boot.sh.tftpl": "serve ${model}%{ if tp > 1 } --tp ${tp}%{ endif }\n",
    })
    assert values["name"] == "llm-prod"
    assert values["script"] == '#!/bin/bash\necho "llm" ${HOME}'
    assert base64.b64decode(str(values["encoded"])).decode() == "hi prod"
    assert values["tpl"] == "serve m --tp 2\n"
    assert values["looked"] == 3 and values["merged"] == {"a": 1, "b": 2}
    assert values["listed"] == ["A"] and values["cond"] == "big" and values["math"] == 7
    assert values["joined"] == "x,y"
    assert isinstance(values["tried"], Unknown)  # var.missing is not declared: unknown, not guessed


def test_unknowns_stay_unknown(tmp_path: Path) -> None:
    values = _values(tmp_path, """
  ami   = data.aws_ami.dl.id
  other = module.vpc.subnet_id
  text  = "id-${data.aws_ami.dl.id}"
  pick  = var.flag ? "a" : "b"
  same  = var.flag ? "a" : "a"
""", {"vars.tf": 'variable "flag" { type = bool }\n'})
    assert isinstance(values["ami"], Unknown) and isinstance(values["other"], Unknown)
    assert values["text"] == "id-${data.aws_ami.dl.id}" and not is_known(values["text"])
    assert isinstance(values["pick"], Unknown)
    assert values["same"] == "a"  # both branches agree


def test_blocks_and_dynamic_blocks_are_lists(tmp_path: Path) -> None:
    values = _values(tmp_path, """
  disk { size = 1 }
  disk { size = 2 }
  dynamic "rule" {
    for_each = { a = 80, b = 443 }
    content { port = rule.value }
  }
""")
    assert values["disk"] == [{"size": 1}, {"size": 2}]
    assert values["rule"] == [{"port": 80}, {"port": 443}]


def test_count_and_for_each_expand(tmp_path: Path) -> None:
    module = _module(tmp_path, {"main.tf": """
resource "x" "counted" {
  count = 2
  n     = count.index
}
resource "x" "each" {
  for_each = toset(["a", "b"])
  n        = each.key
}
resource "x" "off" {
  count = 0
}
resource "x" "maybe" {
  count = var.n
}
variable "n" {}
"""})
    records = Evaluation(module).resources()
    assert [(r.address, r.values.get("n")) for r in records if r.name != "maybe"] == [
        ("x.counted[0]", 0), ("x.counted[1]", 1), ('x.each["a"]', "a"), ('x.each["b"]', "b")]
    (maybe,) = [r for r in records if r.name == "maybe"]
    assert maybe.instances_known is False


def test_references_to_other_resources_configured_attributes(tmp_path: Path) -> None:
    module = _module(tmp_path, {"main.tf": """
resource "aws_sagemaker_model" "m" {
  name = "llama"
}
resource "aws_sagemaker_endpoint_configuration" "c" {
  model = aws_sagemaker_model.m.name
  arn   = aws_sagemaker_model.m.arn
}
"""})
    (config,) = Evaluation(module).resources(["aws_sagemaker_endpoint_configuration"])
    assert config.values["model"] == "llama"
    assert isinstance(config.values["arn"], Unknown)


def test_file_functions_stay_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (tmp_path / "secret.txt").write_text("outside")
    module = _module(root, {"main.tf": 'resource "x" "r" {\n  a = file("../secret.txt")\n  b = file("in.txt")\n}\n',
                            "in.txt": "inside"})
    (record,) = Evaluation(module).resources()
    assert isinstance(record.values["a"], Unknown) and record.values["b"] == "inside"


def test_cycles_and_deep_expressions_do_not_raise(tmp_path: Path) -> None:
    values = _values(tmp_path, "  a = local.x\n  b = " + "(" * 200 + "1" + ")" * 200, {
        "l.tf": "locals {\n  x = local.y\n  y = local.x\n}\n"})
    assert isinstance(values["a"], Unknown)


def test_scan_files_and_group_paths(tmp_path: Path) -> None:
    _module(tmp_path, {"main.tf": "", "presets/a.tfvars": "", ".terraform/m/x.tf": "", "sub/b.tf": ""})
    files = scan_files([tmp_path])
    assert {p.relative_to(tmp_path).as_posix() for p in files} == {"main.tf", "presets/a.tfvars",
                                                                     "sub/b.tf"}
    groups = group_paths(files)
    assert set(groups) == {tmp_path, tmp_path / "sub"}
    assert tmp_path / "presets" / "a.tfvars" in groups[tmp_path]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "locals {}\n"])
def test_empty_inputs(text: str) -> None:
    parsed = parse_text(text, "e.tf")
    assert parsed.failure is None and parsed.duplicates == []
