#!/usr/bin/python3
"""Exports a trained checkpoint (train.py's OUT/) to GGUF through Janus-C's own GGUF writer
(issue 14 item 2): the tensors go to DIR/NAME.f32 under llama.cpp's deepseek2 tensor names
(raw little-endian F32, ggml order: a torch Linear weight [out, in] is ggml {in, out} as is),
the SentencePiece vocabulary to DIR/tokenizer.json, then `janus gen-model --arch deepseek2
--weights DIR --tokenizer-json ...` writes the file in the chosen type, kv_b split into
attn_k_b / attn_v_b as current llama.cpp converters write it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Model  # noqa: E402


def load_model(run_dir):
    with open(os.path.join(run_dir, "config.json")) as f:
        c = Config.from_dict(json.load(f)["model"])
    m = Model(c)
    ck = torch.load(os.path.join(run_dir, "ckpt.pt"))
    m.load_state_dict(ck["model"])
    m.eval()
    return m, ck["step"]


def tensors(m):
    """(gguf name, tensor in ggml order) for every tensor the engine reads."""
    c = m.c
    yield "token_embd.weight", m.embd.weight
    for i, b in enumerate(m.blocks):
        p = f"blk.{i}."
        a = b.attn
        yield p + "attn_norm.weight", b.attn_norm.weight
        yield p + "attn_q.weight", a.wq.weight
        yield p + "attn_kv_a_mqa.weight", a.wkv_a.weight
        yield p + "attn_kv_a_norm.weight", a.kv_norm.weight
        yield p + "attn_kv_b.weight", a.wkv_b.weight
        yield p + "attn_output.weight", a.wo.weight
        yield p + "ffn_norm.weight", b.ffn_norm.weight
        if not b.moe:
            yield p + "ffn_gate.weight", b.ffn.gate.weight
            yield p + "ffn_up.weight", b.ffn.up.weight
            yield p + "ffn_down.weight", b.ffn.down.weight
            continue
        f = b.ffn
        yield p + "ffn_gate_inp.weight", f.router.weight
        yield p + "ffn_gate_exps.weight", f.w_gate
        yield p + "ffn_up_exps.weight", f.w_up
        yield p + "ffn_down_exps.weight", f.w_down
        if f.shared is not None:
            yield p + "ffn_gate_shexp.weight", f.shared.gate.weight
            yield p + "ffn_up_shexp.weight", f.shared.up.weight
            yield p + "ffn_down_shexp.weight", f.shared.down.weight
    yield "output_norm.weight", m.norm.weight
    yield "output.weight", m.embd.weight  # tied head, written as llama.cpp expects it


# The chat format the engine's "default" template renders (src/model/chat_template.c), as
# Jinja for other engines: "SYS\n\nUser: U\n\nAssistant: A\n\n...Assistant:". The model
# was trained on plain text, so this only frames a conversation as a dialogue in prose.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] + '\\n\\n' }}"
    "{% elif m['role'] == 'user' %}{{ 'User: ' + m['content'] + '\\n\\n' }}"
    "{% else %}{{ 'Assistant: ' + m['content'] + '\\n\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")


def tokenizer_json(sp_path):
    sp = spm.SentencePieceProcessor(model_file=sp_path)
    toks, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        toks.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else
                     6 if sp.is_byte(i) else 5 if sp.is_unused(i) else 1)
    return {"model": "llama", "tokens": toks, "scores": scores, "token_types": types,
            "bos": sp.bos_id(), "eos": sp.eos_id(), "unk": sp.unk_id(),
            "add_bos": True, "add_eos": False, "chat_template": CHAT_TEMPLATE}


def gen_model_args(c: Config):
    return ["--arch", "deepseek2", "--n-embd", c.n_embd, "--n-layer", c.n_layer,
            "--n-head", c.n_head, "--n-head-kv", c.n_head, "--n-expert", c.n_expert,
            "--n-expert-used", c.n_expert_used, "--n-ff-exp", c.n_ff_exp, "--n-ff", c.n_ff,
            "--n-expert-shared", c.n_shared, "--n-dense-lead", c.n_dense_lead, "--q-lora", 0,
            "--kv-lora", c.kv_lora, "--qk-nope", c.qk_nope, "--qk-rope", c.qk_rope,
            "--v-head", c.v_head, "--gating", "softmax", "--weights-scale", 1, "--norm-topk", 0,
            "--context", c.context, "--rope-base", c.rope_base, "--rms-eps", c.rms_eps,
            "--mla-split"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="train.py's OUT folder")
    ap.add_argument("--spm", required=True, help="the SentencePiece .model")
    ap.add_argument("--janus", default="build/janus")
    ap.add_argument("--type", default="q8_0")
    ap.add_argument("--name", default="janus-moe-kjv")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    m, step = load_model(a.run)
    with tempfile.TemporaryDirectory() as d, torch.no_grad():
        for name, t in tensors(m):
            t.detach().float().contiguous().numpy().astype("<f4").tofile(os.path.join(d, name + ".f32"))
        tj = os.path.join(d, "tokenizer.json")
        with open(tj, "w") as f:
            json.dump(tokenizer_json(a.spm), f)
        cmd = [a.janus, "gen-model", *map(str, gen_model_args(m.c)), "--weights", d,
               "--tokenizer-json", tj, "--type", a.type, "--name", a.name, "-o", a.output]
        subprocess.run(cmd, check=True)
    print(f"{a.output}: step {step}, type {a.type}")


if __name__ == "__main__":
    main()
