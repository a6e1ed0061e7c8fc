#!/usr/bin/env python3
# Float64 NumPy reference forward pass over a GGUF model, written from the fixtures README
# (../shared/fixtures/README.md §4 and §9): llama (Mixtral-style MoE), qwen2moe, qwen3moe and
# deepseek2 (MLA, shared experts, leading dense layers, softmax/sigmoid gating, exp_probs_b,
# group-limited routing); and (issue 12 item 6, from llama.cpp's model descriptions) olmoe,
# deepseek2 files with attn_k_b / attn_v_b, and linear / YaRN RoPE scaling. Weights are dequantized exactly (F32, F16, BF16, Q8_0); every
# activation, the KV and the softmax are float64. Used to check gen-model models of every
# architecture (the engine's golden tests) and self-tested against every fixture.
#
#   reference.py logits MODEL.gguf ID...        last-position logits, one per line (%.9g)
#   reference.py greedy MODEL.gguf N ID...      N greedy ids (argmax, fed back)
#   reference.py selftest [FIXTURES_DIR]        every fixture: |Δlogit| ≤ 1e-6, greedy exact
# SPDX-License-Identifier: MIT
import os
import struct
import sys

import numpy as np

# ---- GGUF parsing (v2/v3, little-endian)

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}
_TYPE_BLOCK = {0: (1, 4), 1: (1, 2), 8: (32, 34), 30: (1, 2)}  # computable ggml types


class GGUF:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        if self.buf[:4] != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        self.pos = 4
        self.version = self._u32()
        if self.version not in (2, 3):
            raise ValueError(f"{path}: unsupported GGUF version {self.version}")
        n_tensors = self._u64()
        n_kv = self._u64()
        self.kv = {}
        for _ in range(n_kv):
            key = self._str()
            self.kv[key] = self._value(self._u32())
        self.alignment = int(self.kv.get("general.alignment", 32))
        infos = []
        for _ in range(n_tensors):
            name = self._str()
            n_dims = self._u32()
            ne = [self._u64() for _ in range(n_dims)]
            typ = self._u32()
            off = self._u64()
            infos.append((name, ne, typ, off))
        data = (self.pos + self.alignment - 1) // self.alignment * self.alignment
        self.tensors = {}
        for name, ne, typ, off in infos:
            self.tensors[name] = (ne, typ, data + off)

    def _u32(self):
        v = struct.unpack_from("<I", self.buf, self.pos)[0]
        self.pos += 4
        return v

    def _u64(self):
        v = struct.unpack_from("<Q", self.buf, self.pos)[0]
        self.pos += 8
        return v

    def _str(self):
        n = self._u64()
        s = self.buf[self.pos:self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def _value(self, t):
        if t == 8:
            return self._str()
        if t == 9:
            at = self._u32()
            n = self._u64()
            return [self._value(at) for _ in range(n)]
        fmt = _SCALAR[t]
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def tensor(self, name):
        """Dequantized float64 array in row-major (reversed ne) shape."""
        ne, typ, off = self.tensors[name]
        n = int(np.prod(ne))
        shape = tuple(reversed(ne))
        if typ == 0:
            a = np.frombuffer(self.buf, np.float32, n, off).astype(np.float64)
        elif typ == 1:
            a = np.frombuffer(self.buf, np.float16, n, off).astype(np.float64)
        elif typ == 30:
            u = np.frombuffer(self.buf, np.uint16, n, off).astype(np.uint32) << 16
            a = u.view(np.float32).astype(np.float64)
        elif typ == 8:
            blk = np.dtype([("d", "<f2"), ("qs", "i1", 32)])
            b = np.frombuffer(self.buf, blk, n // 32, off)
            a = (b["d"].astype(np.float64)[:, None] * b["qs"].astype(np.float64)).reshape(-1)
        else:
            raise ValueError(f"tensor {name}: unsupported type {typ}")
        return a.reshape(shape)

    def has(self, name):
        return name in self.tensors


# ---- model

def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x) + eps) * w


def silu(z):
    return z / (1.0 + np.exp(-z))


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


class RopeScaling:
    """RoPE scaling as llama.cpp reads the rope.scaling.* keys (llama-context cparams, ggml
    rope_yarn, llm_build_deepseek2): freq_scale = 1/factor; YaRN mixes the interpolated angle
    with the original one along a ramp over the pair index between the correction dims and
    multiplies cos/sin by a magnitude; deepseek2 also multiplies its attention scale by
    kq_mul. Default: no scaling."""

    def __init__(self, kv=None, arch="", n_rot=2, base=10000.0):
        self.fs, self.ext, self.lo, self.hi, self.mag, self.kq_mul = 1.0, 0.0, 0.0, 0.0, 1.0, 1.0
        if kv is None:
            return
        k = lambda s, d=None: kv.get(f"{arch}.{s}", d)  # noqa: E731
        typ = k("rope.scaling.type", "linear")
        if typ not in ("none", "linear", "yarn"):
            raise ValueError(f"rope scaling {typ}")
        factor = k("rope.scaling.factor", 0.0) or 1.0
        self.fs = 1.0 if typ == "none" else 1.0 / factor
        f = 1.0 / self.fs
        ext = k("rope.scaling.yarn_ext_factor", -1.0)
        self.ext = ext if ext >= 0 else (1.0 if typ == "yarn" else 0.0)
        log_mul = k("rope.scaling.yarn_log_multiplier", 0.0) / 0.1 if arch == "deepseek2" else 0.0

        def get_mscale(scale, m):
            return 1.0 if scale <= 1.0 else 0.1 * m * np.log(scale) + 1.0
        attn = k("rope.scaling.yarn_attn_factor", 1.0)
        mag = attn
        if self.ext != 0.0:
            if log_mul != 0.0:
                ms = log_mul if (arch == "deepseek2" and log_mul != 1.0) else 1.0
                mag = get_mscale(f, ms) / get_mscale(f, log_mul)
            else:
                mag = get_mscale(f, 1.0)
            attn = mag / (1.0 + 0.1 * np.log(f))  # what llama.cpp passes to the rope op
            n_ctx = k("rope.scaling.original_context_length", 0) or k("context_length", 0)

            def corr(beta):
                return n_rot * np.log(n_ctx / (beta * 2.0 * np.pi)) / (2.0 * np.log(base))
            self.lo = max(0.0, np.floor(corr(k("rope.scaling.yarn_beta_fast", 32.0))))
            self.hi = min(n_rot - 1.0, np.ceil(corr(k("rope.scaling.yarn_beta_slow", 1.0))))
        ra = k("rope.scaling.attn_factor", 1.0)
        self.mag = mag * ra
        if arch == "deepseek2":
            m = attn * ra * (1.0 + 0.1 * np.log(f)) * (1.0 + 0.1 * log_mul * np.log(f))
            self.kq_mul = m * m

    def angles(self, pos, n_rot, base):
        i = np.arange(n_rot // 2, dtype=np.float64)
        theta_e = pos * base ** (-2.0 * i / n_rot)
        theta = self.fs * theta_e
        if self.ext != 0.0:
            y = np.clip((i - self.lo) / max(0.001, self.hi - self.lo), 0.0, 1.0)
            mix = (1.0 - y) * self.ext
            theta = theta * (1.0 - mix) + theta_e * mix
        return np.cos(theta) * self.mag, np.sin(theta) * self.mag


_NO_SCALING = RopeScaling()


def rope(x, pos, n_rot, base, neox, scaling=_NO_SCALING):
    """Rotates the first n_rot values of vector x (one head) at position pos."""
    x = x.copy()
    half = n_rot // 2
    c, s = scaling.angles(pos, n_rot, base)
    if neox:
        a, b = x[:half].copy(), x[half:n_rot].copy()
        x[:half] = a * c - b * s
        x[half:n_rot] = a * s + b * c
    else:
        a, b = x[0:n_rot:2].copy(), x[1:n_rot:2].copy()
        x[0:n_rot:2] = a * c - b * s
        x[1:n_rot:2] = a * s + b * c
    return x


class Model:
    def __init__(self, path):
        g = self.g = GGUF(path)
        a = self.arch = g.kv["general.architecture"]
        if a not in ("llama", "qwen2moe", "qwen3moe", "deepseek2", "olmoe"):
            raise ValueError(f"unsupported architecture {a}")
        k = lambda s, d=None: g.kv.get(f"{a}.{s}", d)  # noqa: E731
        self.E = k("embedding_length")
        self.L = k("block_count")
        self.H = k("attention.head_count")
        self.Hkv = k("attention.head_count_kv", self.H)
        self.eps = k("attention.layer_norm_rms_epsilon")
        self.base = k("rope.freq_base", 10000.0)
        self.n_expert = k("expert_count", 0)
        self.k = k("expert_used_count", 0)
        self.neox = a in ("qwen2moe", "qwen3moe", "olmoe")
        self.hd = k("attention.key_length", self.E // self.H)
        self.n_rot = k("rope.dimension_count", self.hd)
        self.rs = RopeScaling(g.kv, a, self.n_rot, self.base)
        if a == "deepseek2":
            self.q_lora = k("attention.q_lora_rank", 0)
            self.kv_lora = k("attention.kv_lora_rank")
            self.qk_rope = self.n_rot
            # current converters: per-head widths in *_mla (key_length is then the latent's)
            self.qk_nope = k("attention.key_length_mla", k("attention.key_length")) - self.qk_rope
            self.v_head = k("attention.value_length_mla", k("attention.value_length"))
            self.n_dense = k("leading_dense_block_count", 0)
            self.scale = k("expert_weights_scale", 1.0)
            self.norm = bool(k("expert_weights_norm", False))
            self.gating = k("expert_gating_func", 0) or 1
            self.G = k("expert_group_count", 0)
            self.Gu = k("expert_group_used_count", 0)
        self.W = {}

    def w(self, name):
        if name not in self.W:
            self.W[name] = self.g.tensor(name)
        return self.W[name]

    # ---- attention for all positions (causal); xs: (T, E) normed inputs -> (T, E)
    def attention(self, il, xs):
        p = f"blk.{il}."
        T = xs.shape[0]
        out = np.zeros((T, self.E))
        if self.arch == "deepseek2":
            H, nope, rop, vh = self.H, self.qk_nope, self.qk_rope, self.v_head
            qs, ks, vs = [], [], []
            for t in range(T):
                h = xs[t]
                if self.q_lora:
                    q = self.w(p + "attn_q_b.weight") @ rms(self.w(p + "attn_q_a.weight") @ h,
                                                            self.w(p + "attn_q_a_norm.weight"),
                                                            self.eps)
                else:
                    q = self.w(p + "attn_q.weight") @ h
                q = q.reshape(H, nope + rop)
                c = self.w(p + "attn_kv_a_mqa.weight") @ h
                ckv = rms(c[:self.kv_lora], self.w(p + "attn_kv_a_norm.weight"), self.eps)
                kpe = rope(c[self.kv_lora:], t, rop, self.base, False, self.rs)
                if self.g.has(p + "attn_k_b.weight"):
                    # split form: k_b (H, kv_lora, nope) holds each head's k-rows of kv_b
                    # transposed, v_b (H, v, kv_lora) its v-rows
                    kb, vb = self.w(p + "attn_k_b.weight"), self.w(p + "attn_v_b.weight")
                    kv = np.array([np.concatenate([kb[j].T @ ckv, vb[j] @ ckv])
                                   for j in range(H)])
                else:
                    kv = (self.w(p + "attn_kv_b.weight") @ ckv).reshape(H, nope + vh)
                qh = np.array([np.concatenate([q[j, :nope], rope(q[j, nope:], t, rop, self.base,
                                                                  False, self.rs)])
                               for j in range(H)])
                kh = np.array([np.concatenate([kv[j, :nope], kpe]) for j in range(H)])
                qs.append(qh)
                ks.append(kh)
                vs.append(kv[:, nope:])
            scale = self.rs.kq_mul / np.sqrt(nope + rop)
            for t in range(T):
                heads = []
                for j in range(H):
                    sc = np.array([qs[t][j] @ ks[u][j] for u in range(t + 1)]) * scale
                    pr = softmax(sc)
                    heads.append(sum(pr[u] * vs[u][j] for u in range(t + 1)))
                out[t] = self.w(p + "attn_output.weight") @ np.concatenate(heads)
            return out
        H, Hkv, hd = self.H, self.Hkv, self.hd
        qs, ks, vs = [], [], []
        for t in range(T):
            h = xs[t]
            q = self.w(p + "attn_q.weight") @ h
            kk = self.w(p + "attn_k.weight") @ h
            v = self.w(p + "attn_v.weight") @ h
            if self.g.has(p + "attn_q.bias"):
                q = q + self.w(p + "attn_q.bias")
                kk = kk + self.w(p + "attn_k.bias")
                v = v + self.w(p + "attn_v.bias")
            if self.arch == "olmoe":  # RMSNorm over the whole q and k projections
                q = rms(q, self.w(p + "attn_q_norm.weight"), self.eps)
                kk = rms(kk, self.w(p + "attn_k_norm.weight"), self.eps)
            q = q.reshape(H, hd)
            kk = kk.reshape(Hkv, hd)
            v = v.reshape(Hkv, hd)
            if self.arch == "qwen3moe":
                qn, kn = self.w(p + "attn_q_norm.weight"), self.w(p + "attn_k_norm.weight")
                q = np.array([rms(q[j], qn, self.eps) for j in range(H)])
                kk = np.array([rms(kk[j], kn, self.eps) for j in range(Hkv)])
            q = np.array([rope(q[j], t, self.n_rot, self.base, self.neox, self.rs)
                          for j in range(H)])
            kk = np.array([rope(kk[j], t, self.n_rot, self.base, self.neox, self.rs)
                           for j in range(Hkv)])
            qs.append(q)
            ks.append(kk)
            vs.append(v)
        grp = H // Hkv
        scale = 1.0 / np.sqrt(hd)
        for t in range(T):
            heads = []
            for j in range(H):
                jk = j // grp
                sc = np.array([qs[t][j] @ ks[u][jk] for u in range(t + 1)]) * scale
                pr = softmax(sc)
                heads.append(sum(pr[u] * vs[u][jk] for u in range(t + 1)))
            out[t] = self.w(p + "attn_output.weight") @ np.concatenate(heads)
        return out

    def ffn(self, gate, up, down, h):
        return down @ (silu(gate @ h) * (up @ h))

    def route(self, il, h):
        """Returns [(expert, weight)] for one normed hidden vector."""
        p = f"blk.{il}."
        r = self.w(p + "ffn_gate_inp.weight") @ h
        if self.arch == "deepseek2" and self.gating == 2:
            prob = 1.0 / (1.0 + np.exp(-r))
        else:
            prob = softmax(r)
        s = prob.copy()
        has_b = self.g.has(p + "exp_probs_b.bias")
        if has_b:
            s = s + self.w(p + "exp_probs_b.bias")
        if self.arch == "deepseek2" and self.G > 1:
            n_per = self.n_expert // self.G
            sg = s.reshape(self.G, n_per)
            if has_b:
                score = np.sort(sg, axis=1)[:, -2:].sum(axis=1)  # V3: sum of the top two
            else:
                score = sg.max(axis=1)  # V2: max
            keep = np.argsort(-score, kind="stable")[:self.Gu]
            mask = np.full(self.G, -np.inf)
            mask[keep] = 0.0
            s = (sg + mask[:, None]).reshape(-1)
        top = np.argsort(-s, kind="stable")[:self.k]
        w = prob[top]
        if self.arch in ("llama", "qwen3moe") or (self.arch == "deepseek2" and self.norm):
            w = w / w.sum()
        if self.arch == "deepseek2":
            w = w * self.scale
        return list(zip(top.tolist(), w.tolist()))

    def moe(self, il, h):
        p = f"blk.{il}."
        if self.arch == "deepseek2" and il < self.n_dense:
            return self.ffn(self.w(p + "ffn_gate.weight"), self.w(p + "ffn_up.weight"),
                            self.w(p + "ffn_down.weight"), h)
        ge, ue, de = (self.w(p + "ffn_gate_exps.weight"), self.w(p + "ffn_up_exps.weight"),
                      self.w(p + "ffn_down_exps.weight"))
        out = np.zeros(self.E)
        for e, wt in self.route(il, h):
            out += wt * self.ffn(ge[e], ue[e], de[e], h)
        if self.g.has(p + "ffn_gate_shexp.weight"):
            sh = self.ffn(self.w(p + "ffn_gate_shexp.weight"), self.w(p + "ffn_up_shexp.weight"),
                          self.w(p + "ffn_down_shexp.weight"), h)
            if self.arch == "qwen2moe":
                gsh = self.w(p + "ffn_gate_inp_shexp.weight").reshape(-1) @ h
                sh = sh / (1.0 + np.exp(-gsh))
            out += sh
        return out

    def forward(self, ids):
        """Logits of the last position for the token sequence ids (positions 0..T-1)."""
        emb = self.w("token_embd.weight")
        x = np.array([emb[i] for i in ids])
        for il in range(self.L):
            xn = np.array([rms(x[t], self.w(f"blk.{il}.attn_norm.weight"), self.eps)
                           for t in range(len(ids))])
            x = x + self.attention(il, xn)
            for t in range(len(ids)):
                x[t] = x[t] + self.moe(il, rms(x[t], self.w(f"blk.{il}.ffn_norm.weight"),
                                                self.eps))
        return self.w("output.weight") @ rms(x[-1], self.w("output_norm.weight"), self.eps)

    def greedy(self, ids, n):
        ids = list(ids)
        out = []
        for i in range(n):
            nxt = int(np.argmax(self.forward(ids)))
            out.append(nxt)
            if i + 1 < n:
                ids.append(nxt)
        return out


# ---- command line

def selftest(fixtures):
    models = sorted(f[:-5] for f in os.listdir(os.path.join(fixtures, "models"))
                    if f.endswith(".gguf"))
    worst = 0.0
    fails = 0
    for m in models:
        model = Model(os.path.join(fixtures, "models", m + ".gguf"))
        for n in (1, 2, 3):
            ref = os.path.join(fixtures, "reference", f"{m}.{n}")
            ids = [int(t) for t in open(ref + ".tokens").read().split()]
            want = np.array([float(v) for v in open(ref + ".logits").read().split()])
            got = model.forward(ids)
            d = float(np.max(np.abs(got - want)))
            worst = max(worst, d)
            gw = [int(t) for t in open(ref + ".greedy").read().split()]
            gg = model.greedy(ids, len(gw))
            ok = d <= 1e-6 and gg == gw
            fails += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {m}.{n}: max|Δlogit| {d:.2e}, greedy "
                  f"{'same' if gg == gw else 'got ' + ' '.join(map(str, gg))}")
    print(f"{len(models) * 3 - fails}/{len(models) * 3} fixtures match (worst {worst:.2e})")
    return 1 if fails or not models else 0


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__ if __doc__ else open(__file__).read().split("\n# SPDX")[0])
        return 0 if len(argv) >= 2 else 2
    cmd = argv[1]
    if cmd == "selftest":
        fx = argv[2] if len(argv) > 2 else os.environ.get("JANUS_FIXTURES", "../shared/fixtures")
        return selftest(fx)
    if cmd == "logits" and len(argv) >= 4:
        logits = Model(argv[2]).forward([int(t) for t in argv[3:]])
        sys.stdout.write("".join(f"{v:.9g}\n" for v in logits))
        return 0
    if cmd == "greedy" and len(argv) >= 5:
        print(" ".join(map(str, Model(argv[2]).greedy([int(t) for t in argv[4:]], int(argv[3])))))
        return 0
    sys.stderr.write("reference.py: usage: logits MODEL ID... | greedy MODEL N ID... | selftest "
                     "[FIXTURES]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
