"""A model's architecture as the sizing needs it, built from Hugging Face ``config.json`` facts.

``from_config`` reads a ``config.json`` mapping and *computes* every parameter count from the
shapes it names, module by module, the way the model's ``transformers`` implementation builds
its weights. The published total (safetensors metadata) is only carried along to check that
arithmetic; nothing here is looked up by model name.

Conventions the counts follow:

- ``total_parameters`` is everything in the published checkpoint: the text decoder, the vision
  tower and projector of a multimodal checkpoint, and DeepSeek-V3/R1's multi-token-prediction
  (MTP) module. The MTP module is in the checkpoint (671B + 14B = 685B) but engines load it only
  for speculative decoding, so it is also reported on its own as ``mtp_parameters`` and
  ``served_parameters`` leaves it out.
- ``active_parameters`` is what one token of the main decoder touches: embeddings, attention,
  dense MLPs, shared experts, routers and the ``top_k`` routed experts (vision and MTP excluded).
- ``expert_parameters`` is every routed-expert weight (and bias) of the main decoder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llmplan.errors import UsageError


@dataclass(frozen=True)
class ModelArchitecture:
    """What memory sizing needs to know about one model.

    Every count here is *computed* from the config facts; ``published_parameters`` is the
    checkpoint's own total (safetensors metadata) kept only to check the computation.
    """

    model_id: str
    source: str
    model_type: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    total_parameters: int
    active_parameters: int
    embedding_parameters: int
    lm_head_parameters: int
    expert_parameters: int
    vision_parameters: int
    num_experts: int
    experts_per_token: int
    sliding_window: int | None
    sliding_window_layers: int
    kv_lora_rank: int | None
    qk_rope_head_dim: int | None
    checkpoint_dtype: str
    published_parameters: int | None
    # Added after the first cut; defaults keep older constructors working.
    mtp_parameters: int = 0
    moe_layers: int = 0
    intermediate_size: int = 0
    moe_intermediate_size: int = 0

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def full_attention_layers(self) -> int:
        return self.num_layers - self.sliding_window_layers

    @property
    def served_parameters(self) -> int:
        """The weights an engine loads to serve: the checkpoint less any MTP module."""
        return self.total_parameters - self.mtp_parameters

    @property
    def published_error(self) -> float | None:
        """Relative error of the computed total against the published one, or None."""
        if not self.published_parameters:
            return None
        return (self.total_parameters - self.published_parameters) / self.published_parameters


# --------------------------------------------------------------------------------------------
# Reading config.json with errors that name the field and the file
# --------------------------------------------------------------------------------------------

_NO_DEFAULT: Any = object()

# Keys some families spell differently (GPT-2/Falcon style names), tried in order.
_ALIASES: dict[str, tuple[str, ...]] = {
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head"),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "seq_length"),
}


class _Section:
    """One mapping of a config (top level, ``text_config`` or ``vision_config``) with typed reads.

    ``defaults`` stands in for the ``transformers`` config class defaults, which Hugging Face
    configs omit (Gemma 3's ``text_config`` names only a handful of keys).
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        source: str,
        prefix: str = "",
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.data = data
        self.source = source
        self.prefix = prefix
        self.defaults: Mapping[str, Any] = defaults or {}

    def error(self, key: str, message: str) -> UsageError:
        return UsageError(f"{self.source}: {self.prefix}{key}: {message}")

    def raw(self, key: str) -> Any:
        """The value for ``key`` (or an alias), then the class default; None when neither.

        An explicit ``null`` is kept as None: ``"sliding_window": null`` switches the window off
        rather than falling back to the class default.
        """
        names = _ALIASES.get(key, (key,))
        for name in names:
            if self.data.get(name) is not None:
                return self.data[name]
        if any(name in self.data for name in names):
            return None
        return self.defaults.get(key)

    def has(self, key: str) -> bool:
        return self.raw(key) is not None

    def int_(self, key: str, default: Any = _NO_DEFAULT, *, minimum: int = 1) -> int:
        value = self.raw(key)
        if value is None:
            if default is _NO_DEFAULT:
                raise self.error(key, "missing (needed to count the model's parameters)")
            return int(default)
        # bool is an int subclass; a JSON true in a size field is a malformed config.
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "a positive integer" if minimum >= 1 else f"an integer >= {minimum}"
            raise self.error(key, f"must be {what} (got {value!r})")
        return value

    def opt_int(self, key: str, *, minimum: int = 1) -> int | None:
        return self.int_(key, None, minimum=minimum) if self.has(key) else None

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false (got {value!r})")
        return value

    def text(self, key: str, default: str = "") -> str:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(key, f"must be a string (got {value!r})")
        return value

    def int_list(self, key: str) -> list[int] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self.error(key, f"must be a list of integers (got {value!r})")
        return list(value)

    def str_list(self, key: str) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be a list of strings (got {value!r})")
        return list(value)

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be an object (got {type(value).__name__})")
        return value


# transformers' config-class defaults for keys that published configs leave out. Only the keys
# this module reads are listed; each value is the class default in transformers 4.5x.
_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma": {"head_dim": 256, "tie_word_embeddings": True},
    "gemma2": {"head_dim": 256, "tie_word_embeddings": True, "sliding_window": 4096},
    "gemma3_text": {
        "vocab_size": 262_208,
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "max_position_embeddings": 131_072,
        "sliding_window": 4096,
        "sliding_window_pattern": 6,
        "tie_word_embeddings": True,
    },
    "mistral": {"sliding_window": 4096},
    "mixtral": {"num_local_experts": 8, "num_experts_per_tok": 2},
    "falcon": {"tie_word_embeddings": True, "max_position_embeddings": 2048},
    "gpt_oss": {"attention_bias": True},
    "llama4_text": {"interleave_moe_layer_step": 1, "no_rope_layer_interval": 4},
    "qwen2_moe": {"decoder_sparse_step": 1},
    "qwen3_moe": {"decoder_sparse_step": 1},
    "deepseek_v2": {"moe_layer_freq": 1, "first_k_dense_replace": 0, "n_shared_experts": 0},
    "deepseek_v3": {"moe_layer_freq": 1, "first_k_dense_replace": 0, "n_shared_experts": 0},
}
# Families whose attention carries q/k RMSNorms of one head width each.
_QK_NORM_FAMILIES = {"qwen3", "qwen3_moe", "gemma3_text"}
# Families with four RMSNorms per layer (pre/post around both attention and MLP).
_FOUR_NORM_FAMILIES = {"gemma2", "gemma3_text"}
# Qwen2 hard-codes biases on q/k/v (not o) whatever the config says.
_QKV_BIAS_FAMILIES = {"qwen2", "qwen2_moe"}


# --------------------------------------------------------------------------------------------
# Text decoder
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """The decoder dimensions every count below starts from."""

    family: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    max_positions: int
    intermediate: int


@dataclass(frozen=True)
class _Moe:
    """How one family lays out its mixture-of-experts layers."""

    experts: int
    top_k: int
    expert_width: int  # intermediate size of one routed expert
    expert_bias: bool  # gpt-oss experts carry biases on both projections
    shared_width: int  # summed intermediate size of the always-on shared expert(s)
    shared_gate: bool  # Qwen2-MoE scales its shared expert by a 1-wide sigmoid gate
    router_bias: bool  # gpt-oss's router is a Linear with bias
    router_correction: bool  # DeepSeek-V3's aux-loss-free routing keeps one bias per expert
    is_moe_layer: Callable[[int], bool]


@dataclass(frozen=True)
class _Block:
    """Parameter tallies of a piece of the model."""

    total: int = 0
    active: int = 0
    experts: int = 0

    def __add__(self, other: _Block) -> _Block:
        return _Block(
            self.total + other.total, self.active + other.active, self.experts + other.experts
        )


def _dense(params: int) -> _Block:
    """A piece every token goes through."""
    return _Block(params, params, 0)


def _shape(text: _Section) -> _Shape:
    family = text.text("model_type", "unknown")
    hidden = text.int_("hidden_size")
    heads = text.int_("num_attention_heads")
    if family == "falcon" and not text.has("num_kv_heads"):
        # Falcon-7B style multi-query attention shares one K/V head; Falcon-40B names its count.
        kv_heads = 1 if text.flag("multi_query", True) else heads
    else:
        kv_heads = text.int_("num_key_value_heads", text.int_("num_kv_heads", heads))
    head_dim = _head_dim(text, hidden, heads)
    if family == "falcon":
        intermediate = text.int_("ffn_hidden_size", 4 * hidden)
    else:
        intermediate = text.int_("intermediate_size")
    return _Shape(
        family=family,
        hidden=hidden,
        layers=text.int_("num_hidden_layers"),
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab=text.int_("vocab_size"),
        max_positions=text.int_("max_position_embeddings"),
        intermediate=intermediate,
    )


def _head_dim(text: _Section, hidden: int, heads: int) -> int:
    if text.has("kv_lora_rank"):
        # MLA: a query/key head is its no-position part plus its rotary part.
        return text.int_("qk_nope_head_dim") + text.int_("qk_rope_head_dim")
    if text.has("head_dim"):
        return text.int_("head_dim")
    if hidden % heads:
        raise text.error(
            "head_dim",
            f"missing, and hidden_size {hidden} is not divisible by {heads} attention heads",
        )
    return hidden // heads


def _attention(text: _Section, s: _Shape) -> int:
    """One layer's attention weights: projections, biases, q/k norms and sinks."""
    if text.has("kv_lora_rank"):
        return _mla_attention(text, s)
    q_out = s.heads * s.head_dim
    kv_out = 2 * s.kv_heads * s.head_dim
    params = s.hidden * (q_out + kv_out) + q_out * s.hidden
    if s.family in _QKV_BIAS_FAMILIES:
        params += q_out + kv_out
    elif text.flag("attention_bias", False) or (s.family == "falcon" and text.flag("bias", False)):
        params += q_out + kv_out + s.hidden
    if s.family in _QK_NORM_FAMILIES:
        params += 2 * s.head_dim
    if s.family == "gpt_oss":
        params += s.heads  # one learned attention-sink logit per head
    return params


def _mla_attention(text: _Section, s: _Shape) -> int:
    """DeepSeek multi-head latent attention: low-rank query and a shared compressed KV latent."""
    nope = text.int_("qk_nope_head_dim")
    rope = text.int_("qk_rope_head_dim")
    v_dim = text.int_("v_head_dim")
    kv_rank = text.int_("kv_lora_rank")
    q_rank = text.opt_int("q_lora_rank")
    q_width = s.heads * (nope + rope)
    # V2-Lite has no q_lora_rank: a plain query projection. Otherwise q_a_proj, norm, q_b_proj.
    low_rank = s.hidden * q_rank + q_rank + q_rank * q_width if q_rank else 0
    query = low_rank or s.hidden * q_width
    # kv_a_proj_with_mqa emits the latent plus the shared rotary key; then its norm and kv_b_proj.
    kv = s.hidden * (kv_rank + rope) + kv_rank + kv_rank * s.heads * (nope + v_dim)
    out = s.heads * v_dim * s.hidden
    bias = 0
    if text.flag("attention_bias", False):
        bias = (q_rank or q_width) + (kv_rank + rope) + (q_width if q_rank else 0)
    return query + kv + out + bias


def _gated_mlp(hidden: int, width: int, bias: bool = False) -> int:
    """gate, up and down projections (SwiGLU/GeGLU), with optional biases."""
    return 3 * hidden * width + ((2 * width + hidden) if bias else 0)


def _dense_mlp(text: _Section, s: _Shape, width: int) -> int:
    if s.family == "falcon":  # plain GELU MLP: up and down only
        return 2 * s.hidden * width + ((width + s.hidden) if text.flag("bias", False) else 0)
    return _gated_mlp(s.hidden, width, text.flag("mlp_bias", False))


def _norms_per_layer(text: _Section, s: _Shape) -> int:
    if s.family in _FOUR_NORM_FAMILIES:
        return 4 * s.hidden
    if s.family == "falcon":
        # LayerNorms (weight and bias). Falcon-7B's parallel block shares one before both.
        parallel = text.flag("parallel_attn", True) and not text.flag(
            "new_decoder_architecture", False
        )
        return (1 if parallel else 2) * 2 * s.hidden
    return 2 * s.hidden


def _final_norm(s: _Shape) -> int:
    return 2 * s.hidden if s.family == "falcon" else s.hidden


def _moe(text: _Section, s: _Shape) -> _Moe | None:
    """The family's MoE layout, or None for a dense model."""
    if s.family in ("deepseek_v2", "deepseek_v3"):
        return _deepseek_moe(text, s)
    if s.family in ("qwen2_moe", "qwen3_moe"):
        return _qwen_moe(text, s)
    if s.family == "llama4_text":
        return _llama4_moe(text, s)
    experts = text.int_("num_local_experts", 0, minimum=0) or text.int_("num_experts", 0, minimum=0)
    if not experts:
        return None
    # Mixtral, gpt-oss and look-alikes: every layer routes over full-width experts.
    gpt_oss = s.family == "gpt_oss"
    return _Moe(
        experts=experts,
        top_k=text.int_("num_experts_per_tok", text.int_("experts_per_token", 2)),
        expert_width=text.int_("moe_intermediate_size", s.intermediate),
        expert_bias=gpt_oss,
        shared_width=0,
        shared_gate=False,
        router_bias=gpt_oss,
        router_correction=False,
        is_moe_layer=lambda _i: True,
    )


def _deepseek_moe(text: _Section, s: _Shape) -> _Moe | None:
    experts = text.int_("n_routed_experts", 0, minimum=0)
    if not experts:
        return None
    width = text.int_("moe_intermediate_size")
    first_dense = text.int_("first_k_dense_replace", minimum=0)
    freq = text.int_("moe_layer_freq")
    return _Moe(
        experts=experts,
        top_k=text.int_("num_experts_per_tok"),
        expert_width=width,
        expert_bias=False,
        # n shared experts are built as one MLP n times as wide.
        shared_width=width * text.int_("n_shared_experts", minimum=0),
        shared_gate=False,
        router_bias=False,
        router_correction=text.text("topk_method") == "noaux_tc",
        is_moe_layer=lambda i: i >= first_dense and i % freq == 0,
    )


def _qwen_moe(text: _Section, s: _Shape) -> _Moe | None:
    experts = text.int_("num_experts", 0, minimum=0)
    if not experts:
        return None
    dense_layers = set(text.int_list("mlp_only_layers") or [])
    step = text.int_("decoder_sparse_step")
    shared = text.int_("shared_expert_intermediate_size", 0, minimum=0)
    return _Moe(
        experts=experts,
        top_k=text.int_("num_experts_per_tok"),
        expert_width=text.int_("moe_intermediate_size"),
        expert_bias=False,
        shared_width=shared,
        shared_gate=shared > 0,
        router_bias=False,
        router_correction=False,
        is_moe_layer=lambda i: i not in dense_layers and (i + 1) % step == 0,
    )


def _llama4_moe(text: _Section, s: _Shape) -> _Moe | None:
    experts = text.int_("num_local_experts", 0, minimum=0)
    if not experts:
        return None
    explicit = text.int_list("moe_layers")
    if explicit is not None:
        chosen = set(explicit)
    else:
        step = text.int_("interleave_moe_layer_step")
        chosen = set(range(step - 1, s.layers, step))
    return _Moe(
        experts=experts,
        top_k=text.int_("num_experts_per_tok"),
        expert_width=s.intermediate,
        expert_bias=False,
        shared_width=s.intermediate,  # one shared expert as wide as a routed one
        shared_gate=False,
        router_bias=False,
        router_correction=False,
        is_moe_layer=lambda i: i in chosen,
    )


def _moe_mlp(s: _Shape, moe: _Moe) -> _Block:
    """One MoE layer's MLP: routed experts, shared expert(s) and the router."""
    one_expert = _gated_mlp(s.hidden, moe.expert_width, moe.expert_bias)
    routed = moe.experts * one_expert
    always = s.hidden * moe.experts  # router
    if moe.router_bias:
        always += moe.experts
    if moe.router_correction:
        always += moe.experts
    if moe.shared_width:
        always += _gated_mlp(s.hidden, moe.shared_width)
    if moe.shared_gate:
        always += s.hidden
    return _Block(routed + always, moe.top_k * one_expert + always, routed)


def _dense_width(text: _Section, s: _Shape) -> int:
    """Width of the MLP in layers that do not route (Llama 4 keeps a wider one for those)."""
    if s.family == "llama4_text":
        return text.int_("intermediate_size_mlp", s.intermediate)
    return s.intermediate


def _layer(text: _Section, s: _Shape, moe: _Moe | None, index: int) -> _Block:
    block = _dense(_attention(text, s) + _norms_per_layer(text, s))
    if moe is not None and moe.is_moe_layer(index):
        return block + _moe_mlp(s, moe)
    return block + _dense(_dense_mlp(text, s, _dense_width(text, s)))


def _mtp_module(text: _Section, s: _Shape, moe: _Moe | None) -> int:
    """DeepSeek-V3's next-token-prediction layers, as stored in its checkpoint.

    Each is one more decoder layer (index ``num_hidden_layers + k``, so an MoE layer) plus two
    RMSNorms on its inputs, a 2h -> h projection, a head RMSNorm, and its own copies of the
    embedding and output matrices (the checkpoint stores them again under ``layers.61``).
    """
    count = text.int_("num_nextn_predict_layers", 0, minimum=0)
    if not count:
        return 0
    per = _layer(text, s, moe, s.layers).total
    per += 2 * s.hidden + 2 * s.hidden * s.hidden + s.hidden + 2 * s.vocab * s.hidden
    return count * per


# --------------------------------------------------------------------------------------------
# Sliding windows
# --------------------------------------------------------------------------------------------


def _windows(text: _Section, s: _Shape) -> tuple[int | None, int]:
    """(window in tokens, number of layers that use it); (None, 0) when all attend fully."""
    layer_types = text.str_list("layer_types")
    window = text.opt_int("sliding_window")
    if s.family == "llama4_text":
        return _llama4_chunks(text, s)
    if layer_types is not None:
        if len(layer_types) != s.layers:
            raise text.error("layer_types", f"has {len(layer_types)} entries for {s.layers} layers")
        windowed = sum(t in ("sliding_attention", "chunked_attention") for t in layer_types)
        return (window, windowed) if window and windowed else (None, 0)
    if window is None or (s.max_positions and window >= s.max_positions):
        return None, 0  # a window as long as the context changes nothing
    if s.family == "gemma2":
        return window, (s.layers + 1) // 2  # even-numbered layers are local
    if s.family == "gemma3_text":
        pattern = text.int_("sliding_window_pattern")
        return window, s.layers - s.layers // pattern  # every pattern-th layer is global
    if s.family.startswith("qwen"):
        if not text.flag("use_sliding_window", False):
            return None, 0
        first = text.int_("max_window_layers", s.layers, minimum=0)
        return window, max(0, s.layers - first)
    return window, s.layers  # Mistral 7B v0.1, Phi-3: one window for every layer


def _llama4_chunks(text: _Section, s: _Shape) -> tuple[int | None, int]:
    """Llama 4 attends within fixed chunks on its RoPE layers: KV never spans more than a chunk."""
    chunk = text.opt_int("attention_chunk_size")
    if chunk is None:
        return None, 0
    rope_layers = text.int_list("no_rope_layers") or []
    if rope_layers:
        chunked = sum(1 for flag in rope_layers[: s.layers] if flag)
    else:
        interval = text.int_("no_rope_layer_interval")
        chunked = sum(1 for i in range(s.layers) if (i + 1) % interval)
    return chunk, chunked


# --------------------------------------------------------------------------------------------
# Vision towers and projectors
# --------------------------------------------------------------------------------------------


def _vision(top: _Section, text_hidden: int) -> int:
    """Vision tower plus projector of a multimodal checkpoint; 0 for a text-only config."""
    raw = top.mapping("vision_config")
    if raw is None:
        return 0
    vision = _Section(raw, top.source, "vision_config.")
    kind = vision.text("model_type", "")
    if kind == "llama4_vision_model":
        return _llama4_vision(vision) + _llama4_projector(vision, text_hidden)
    if kind == "pixtral":
        return _pixtral_vision(vision) + _mistral3_projector(top, vision, text_hidden)
    if kind not in ("siglip_vision_model", "clip_vision_model") and not all(
        vision.has(key) for key in _VIT_KEYS
    ):
        # A tower of another layout (Qwen-VL's windowed ViT, ...): its size cannot be read from
        # these keys, so only the decoder is counted rather than guessing the encoder.
        return 0
    # SigLIP (Gemma 3) and other CLIP-style ViTs share one layout.
    tower = _vit(vision)
    if top.text("model_type") == "gemma3":
        tower += vision.int_("hidden_size") * text_hidden + vision.int_("hidden_size")
    return tower


_VIT_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "patch_size", "image_size")


def _vit_layer(hidden: int, width: int) -> int:
    """A pre-LN ViT block: biased q/k/v/o, biased fc1/fc2, two LayerNorms."""
    return 4 * (hidden * hidden + hidden) + 2 * hidden * width + width + hidden + 4 * hidden


def _vit(v: _Section) -> int:
    """SigLIP/CLIP vision transformer: conv patch embedding, learned positions, blocks, post-LN."""
    hidden = v.int_("hidden_size")
    width = v.int_("intermediate_size")
    patch = v.int_("patch_size")
    channels = v.int_("num_channels", 3)
    positions = (v.int_("image_size") // patch) ** 2
    clip = v.text("model_type") == "clip_vision_model"
    # CLIP: bias-free patch conv, a class token with its own position, and a pre-LayerNorm.
    params = channels * patch * patch * hidden + (0 if clip else hidden) + positions * hidden
    if clip:
        params += hidden + hidden + 2 * hidden
    params += v.int_("num_hidden_layers") * _vit_layer(hidden, width) + 2 * hidden
    if v.flag("vision_use_head", v.text("model_type") == "siglip_vision_model"):
        # SigLIP attention-pooling head: probe, MultiheadAttention, LayerNorm, MLP.
        params += hidden + 3 * hidden * hidden + 3 * hidden + hidden * hidden + hidden
        params += 2 * hidden + 2 * hidden * width + width + hidden
    return params


def _llama4_vision(v: _Section) -> int:
    hidden = v.int_("hidden_size")
    width = v.int_("intermediate_size")
    patch = v.int_("patch_size")
    channels = v.int_("num_channels", 3)
    positions = (v.int_("image_size") // patch) ** 2 + 1  # patches plus the class token
    params = channels * patch * patch * hidden  # unfold + Linear, no bias
    params += hidden + positions * hidden  # class embedding, positional embedding
    params += 2 * (2 * hidden)  # LayerNorms before and after the encoder
    params += v.int_("num_hidden_layers") * _vit_layer(hidden, width)
    # Pixel-shuffle adapter: fc1 from the ViT MLP width, fc2 at the projector width; no biases.
    params += width * v.int_("projector_input_dim")
    params += v.int_("projector_output_dim") * v.int_("projector_output_dim")
    return params


def _llama4_projector(v: _Section, text_hidden: int) -> int:
    return v.int_("vision_output_dim") * text_hidden


def _pixtral_vision(v: _Section) -> int:
    """Pixtral ViT: bias-free conv patches, RMSNorms, gated MLPs, rotary positions (no table)."""
    hidden = v.int_("hidden_size")
    width = v.int_("intermediate_size")
    patch = v.int_("patch_size")
    channels = v.int_("num_channels", 3)
    per_layer = 2 * hidden + 4 * hidden * hidden + 3 * hidden * width
    return channels * patch * patch * hidden + hidden + v.int_("num_hidden_layers") * per_layer


def _mistral3_projector(top: _Section, v: _Section, text_hidden: int) -> int:
    """Mistral 3 projector: RMSNorm, patch merger (merge x merge -> 1), two linears."""
    hidden = v.int_("hidden_size")
    merge = top.int_("spatial_merge_size", 2)
    bias = top.flag("multimodal_projector_bias", False)
    params = hidden + hidden * merge * merge * hidden
    params += hidden * text_hidden + text_hidden * text_hidden
    if bias:
        params += 2 * text_hidden
    return params


# --------------------------------------------------------------------------------------------
# Checkpoint precision
# --------------------------------------------------------------------------------------------

_TORCH_DTYPES = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "float": "fp32",
}


def _checkpoint_dtype(top: _Section, text: _Section) -> str:
    quant = top.mapping("quantization_config") or text.mapping("quantization_config")
    if quant is not None:
        q = _Section(quant, top.source, "quantization_config.")
        method = q.text("quant_method", "").lower()
        if method in ("fp8", "mxfp4", "awq", "gptq"):
            return method
        if method:
            return method
    dtype = top.text("torch_dtype") or top.text("dtype") or text.text("torch_dtype")
    if dtype:
        return _TORCH_DTYPES.get(dtype.lower(), dtype.lower())
    # No dtype at all: engines load such checkpoints in 16-bit (vLLM's "auto" turns fp32 into
    # a 16-bit type), so 16-bit is what the weights will occupy.
    return "bf16"


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _text_section(top: _Section) -> _Section:
    """The decoder's own keys: ``text_config`` of a multimodal wrapper, else the top level."""
    raw = top.mapping("text_config")
    data, prefix = (raw, "text_config.") if raw is not None else (top.data, "")
    family = str(data.get("model_type") or "")
    return _Section(data, top.source, prefix, _FAMILY_DEFAULTS.get(family, {}))


def _tied(top: _Section, text: _Section) -> bool:
    # Wrappers keep the flag at the top level (Llama 4), inside text_config, or only as a class
    # default (Gemma 3 ties; most others do not).
    if text.data.get("tie_word_embeddings") is not None:
        return text.flag("tie_word_embeddings", False)
    if top is not text and top.data.get("tie_word_embeddings") is not None:
        return top.flag("tie_word_embeddings", False)
    return bool(text.defaults.get("tie_word_embeddings", False))


def from_config(
    config: Mapping[str, Any],
    *,
    model_id: str,
    source: str,
    published_parameters: int | None = None,
    checkpoint_dtype: str | None = None,
) -> ModelArchitecture:
    """Parse a Hugging Face ``config.json`` mapping and count the model's parameters.

    Raises ``UsageError`` naming the field and ``source`` when a needed field is missing or
    malformed.
    """
    if not isinstance(config, Mapping):
        raise UsageError(f"{source}: must hold a JSON object (got {type(config).__name__})")
    top = _Section(config, source)
    text = _text_section(top)
    s = _shape(text)
    moe = _moe(text, s)

    layers = [_layer(text, s, moe, i) for i in range(s.layers)]
    decoder = _Block()
    for block in layers:
        decoder = decoder + block
    embedding = s.vocab * s.hidden
    lm_head = 0 if _tied(top, text) else s.vocab * s.hidden
    edges = _dense(embedding + lm_head + _final_norm(s))
    main = decoder + edges
    vision = _vision(top, s.hidden)
    mtp = _mtp_module(text, s, moe)
    window, windowed = _windows(text, s)
    moe_layers = sum(1 for i in range(s.layers) if moe is not None and moe.is_moe_layer(i))

    return ModelArchitecture(
        model_id=model_id,
        source=source,
        model_type=s.family,
        num_layers=s.layers,
        hidden_size=s.hidden,
        num_attention_heads=s.heads,
        num_kv_heads=s.kv_heads,
        head_dim=s.head_dim,
        vocab_size=s.vocab,
        max_position_embeddings=s.max_positions,
        total_parameters=main.total + vision + mtp,
        active_parameters=main.active,
        embedding_parameters=embedding,
        lm_head_parameters=lm_head,
        expert_parameters=main.experts,
        vision_parameters=vision,
        num_experts=moe.experts if moe else 0,
        experts_per_token=moe.top_k if moe else 0,
        sliding_window=window,
        sliding_window_layers=windowed,
        kv_lora_rank=text.opt_int("kv_lora_rank"),
        qk_rope_head_dim=text.opt_int("qk_rope_head_dim") if text.has("kv_lora_rank") else None,
        checkpoint_dtype=checkpoint_dtype or _checkpoint_dtype(top, text),
        published_parameters=published_parameters,
        mtp_parameters=mtp,
        moe_layers=moe_layers,
        intermediate_size=_dense_width(text, s),
        moe_intermediate_size=moe.expert_width if moe else 0,
    )
