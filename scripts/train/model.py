"""A small deepseek2-style MoE language model in PyTorch: the architecture Janus-C's engine
runs for `general.architecture = deepseek2` (src/engine/attn.c attn_mla, src/engine/gate.c,
src/engine/moe.c), written the plain (non-absorbed) way so it is the reference the exported
GGUF is checked against (issue 14 items 1-2).

Layers: RMSNorm -> MLA attention (no q compression: attn_q; kv compression kv_lora with a
shared rope key) -> residual; RMSNorm -> FFN -> residual. The first `n_dense_lead` FFNs are
dense SwiGLU; the others are MoE: softmax router over `n_expert` fine-grained SwiGLU experts,
top-k (weights not renormalised, scale 1, as DeepSeek-V2-Lite), plus `n_shared` shared
experts of the same width always applied. RoPE rotates adjacent pairs (ggml's "norm" mode,
the engine's neox = 0 for MLA). Output head tied to the token embedding.
"""
import dataclasses
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclasses.dataclass
class Config:
    n_vocab: int = 4096
    n_embd: int = 256
    n_layer: int = 6
    n_head: int = 4
    kv_lora: int = 64
    qk_nope: int = 32
    qk_rope: int = 16
    v_head: int = 32
    n_dense_lead: int = 1
    n_ff: int = 768  # dense layers
    n_expert: int = 32
    n_expert_used: int = 4
    n_ff_exp: int = 96
    n_shared: int = 1
    context: int = 512
    rope_base: float = 10000.0
    rms_eps: float = 1e-6
    aux_loss: float = 0.001  # expert-level load-balancing loss coefficient (kept light)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @staticmethod
    def from_dict(d):
        return Config(**{k: v for k, v in d.items() if k in Config.__dataclass_fields__})


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(n_rot, n_pos, base, device=None):
    """cos/sin of position p for pair i: angle p * base^(-2i/n_rot), shape (n_pos, n_rot/2)."""
    inv = base ** (-torch.arange(0, n_rot, 2, dtype=torch.float64, device=device) / n_rot)
    ang = torch.arange(n_pos, dtype=torch.float64, device=device)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rope_pairs(x, cos, sin):
    """Rotates adjacent pairs (x[2i], x[2i+1]) of the last dimension. x: (..., T, n_rot)."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).flatten(-2)


class MLA(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        H, qk = c.n_head, c.qk_nope + c.qk_rope
        self.wq = nn.Linear(c.n_embd, H * qk, bias=False)  # attn_q
        self.wkv_a = nn.Linear(c.n_embd, c.kv_lora + c.qk_rope, bias=False)  # attn_kv_a_mqa
        self.kv_norm = RMSNorm(c.kv_lora, c.rms_eps)  # attn_kv_a_norm
        self.wkv_b = nn.Linear(c.kv_lora, H * (c.qk_nope + c.v_head), bias=False)  # attn_kv_b
        self.wo = nn.Linear(H * c.v_head, c.n_embd, bias=False)  # attn_output

    def forward(self, x, cos, sin):
        c = self.c
        B, T, _ = x.shape
        H, nope, rope, dv = c.n_head, c.qk_nope, c.qk_rope, c.v_head
        q = self.wq(x).view(B, T, H, nope + rope).transpose(1, 2)  # B H T qk
        q_nope, q_pe = q[..., :nope], q[..., nope:]
        q_pe = rope_pairs(q_pe, cos[:T], sin[:T])
        kv_a = self.wkv_a(x)
        lat, k_pe = kv_a[..., : c.kv_lora], kv_a[..., c.kv_lora :]
        k_pe = rope_pairs(k_pe, cos[:T], sin[:T]).unsqueeze(1)  # B 1 T rope
        kv = self.wkv_b(self.kv_norm(lat)).view(B, T, H, nope + dv).transpose(1, 2)
        k_nope, v = kv[..., :nope], kv[..., nope:]
        qf = torch.cat((q_nope, q_pe), dim=-1)
        kf = torch.cat((k_nope, k_pe.expand(B, H, T, rope)), dim=-1)
        att = (qf @ kf.transpose(-1, -2)) * (1.0 / math.sqrt(nope + rope))
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, H * dv)
        return self.wo(y)


class SwiGLU(nn.Module):
    def __init__(self, n_embd, n_ff):
        super().__init__()
        self.gate = nn.Linear(n_embd, n_ff, bias=False)
        self.up = nn.Linear(n_embd, n_ff, bias=False)
        self.down = nn.Linear(n_ff, n_embd, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class MoE(nn.Module):
    """Routed experts as stacked weights (ffn_{gate,up,down}_exps) plus shared experts."""

    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        E, X, f = c.n_embd, c.n_expert, c.n_ff_exp
        self.router = nn.Linear(E, X, bias=False)  # ffn_gate_inp
        s = 1.0 / math.sqrt(E)
        self.w_gate = nn.Parameter(torch.empty(X, f, E).uniform_(-s, s))
        self.w_up = nn.Parameter(torch.empty(X, f, E).uniform_(-s, s))
        self.w_down = nn.Parameter(torch.empty(X, E, f).uniform_(-1 / math.sqrt(f), 1 / math.sqrt(f)))
        self.shared = SwiGLU(E, f * c.n_shared) if c.n_shared > 0 else None
        self.last_ids = None  # (N, k) routing of the last forward (for traces)

    def forward(self, x):
        c = self.c
        B, T, E = x.shape
        xf = x.reshape(-1, E)
        probs = self.router(xf).softmax(-1)  # N X
        w, ids = probs.topk(c.n_expert_used, dim=-1)  # weights not renormalised
        self.last_ids = ids.detach()
        # Tokens grouped by expert with one gather; split/cat (not slicing) keep the backward
        # pass to one buffer per layer instead of one full-size gradient per expert.
        flat = ids.reshape(-1)
        order = flat.argsort(stable=True)
        counts = torch.bincount(flat, minlength=c.n_expert).tolist()
        tok = order // c.n_expert_used
        xs = xf[tok].split(counts)
        # unbind, not w[e]: one stacked gradient per weight instead of one full-size per expert
        wg, wu, wd = self.w_gate.unbind(0), self.w_up.unbind(0), self.w_down.unbind(0)
        ys = []
        for e, xe in enumerate(xs):
            if xe.shape[0] == 0:
                continue
            h = F.silu(xe @ wg[e].t()) * (xe @ wu[e].t())
            ys.append(h @ wd[e].t())
        y = torch.cat(ys) * w.reshape(-1)[order, None]
        out = torch.zeros_like(xf).index_add(0, tok, y)
        if self.shared is not None:
            out = out + self.shared(xf)
        # Switch-style expert-level balance loss: X * sum_e f_e * P_e.
        frac = torch.bincount(flat, minlength=c.n_expert).float() / flat.numel()
        self.aux = c.n_expert * (frac * probs.mean(0)).sum()
        return out.view(B, T, E)


class Block(nn.Module):
    def __init__(self, c: Config, layer: int):
        super().__init__()
        self.attn_norm = RMSNorm(c.n_embd, c.rms_eps)
        self.attn = MLA(c)
        self.ffn_norm = RMSNorm(c.n_embd, c.rms_eps)
        self.moe = layer >= c.n_dense_lead
        self.ffn = MoE(c) if self.moe else SwiGLU(c.n_embd, c.n_ff)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.ffn(self.ffn_norm(x))


class Model(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embd = nn.Embedding(c.n_vocab, c.n_embd)
        nn.init.normal_(self.embd.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(c, i) for i in range(c.n_layer))
        self.norm = RMSNorm(c.n_embd, c.rms_eps)
        cos, sin = rope_tables(c.qk_rope, c.context, c.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, ids):
        x = self.embd(ids)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        return self.norm(x) @ self.embd.weight.t()  # tied head

    def aux_loss(self):
        return sum(b.ffn.aux for b in self.blocks if b.moe)

    def routing(self):
        """Per MoE layer, the (N, k) expert ids of the last forward."""
        return [b.ffn.last_ids for b in self.blocks if b.moe]
