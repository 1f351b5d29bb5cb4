"""Reading existing Terraform: ``.tf``/``.tfvars`` files in, evaluated resource records out.

Modules: ``syntax`` (parsing with line numbers), ``values`` (Unknown and coercions), ``context``
(the leaf of evaluation: names in scope, EvalError), ``templates`` and ``functions`` (Terraform's
template language and built-ins), ``evaluator``, ``files``, ``module``, ``evaluation``
(variables, resources expanded over count/for_each), ``plan_json`` (``terraform show -json``) and
``compute`` (GPU compute resources per cloud).

Used by ``llmplan check`` and ``llmplan cost``. Nothing here runs Terraform or reaches a cloud:
values are what the source says, after static evaluation (see :mod:`llmplan.terraform.evaluator`).

API
---
- :func:`parse_file` / :func:`parse_text` -> :class:`HclFile`: blocks and attributes with line
  numbers, duplicate keys, or a :class:`ParseFailure` (never an exception).
- :func:`group_paths` -> ``{module directory: requested files}`` for files and folders given on a
  command line (``.tfvars`` files belong to the nearest folder above them holding ``.tf`` files).
- :class:`Module`: one folder of ``.tf`` files, parsed lazily (only the files a lookup needs).
- :class:`Evaluation`: a module with one set of variable values: defaults, then
  ``terraform.tfvars``, ``*.auto.tfvars``, then any extra ``-var-file`` in order, then overrides.
  ``resources(types)`` gives :class:`Resource` records, expanded over ``count``/``for_each``.
- :class:`Resource`: ``mode`` (resource/data/module), ``type``, ``name``, ``address``, ``file``,
  ``line``, ``values`` (plan-JSON shaped: nested blocks are lists of dicts; unknowns are
  :class:`Unknown`), ``lines`` (attribute/block name -> line).
- :class:`VarOrigin` (``Evaluation.origins``): where each variable's value came from, and
  ``Evaluation.used_variables``: which variables an evaluation read.
- :func:`expression_text`: an attribute's HCL source, to say why a value is unknown.

Plans (``terraform show -json``) are read by :mod:`llmplan.terraform.plan_json` (the cost
command's reader), into records of the same shape: ``values`` dicts with nested blocks as
lists of dicts.
Not evaluated here: ``.tf.json`` files, child modules (a module call is one record whose
``values`` are its inputs; a caller may evaluate the child with ``Evaluation(Module(dir),
overrides=inputs)``), and override files' merge semantics.

May import: errors, vocabulary, catalog.
"""
