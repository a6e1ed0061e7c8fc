#!/usr/bin/python3
"""Trains the default model's SentencePiece tokenizer (issue 14 item 1): BPE with byte
fallback, no text normalisation (so llama.cpp-style SPM tokenization in the engine gives the
same ids), a dummy-prefix space, <unk>=0 <s>=1 </s>=2. Writes OUT.model and OUT.vocab, and
the token ids of the corpus splits (OUT.train.ids / OUT.heldout.ids, int16 little-endian,
documents joined with </s>) for train.py.
"""
import argparse
import array
import os

import sentencepiece as spm


def encode_docs(sp, path):
    with open(path, encoding="utf-8") as f:
        docs = [d.strip("\n") for d in f.read().split("\n\n\n") if d.strip()]
    out = array.array("h")
    for d in docs:
        out.extend(sp.encode(d))
        out.append(sp.eos_id())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True, help="corpus.py's output folder")
    ap.add_argument("--out", required=True, help="output prefix, e.g. DIR/spm")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    spm.SentencePieceTrainer.train(
        input=os.path.join(a.corpus, "train.txt"), model_prefix=a.out, model_type="bpe",
        vocab_size=a.vocab, byte_fallback=True, character_coverage=1.0,
        normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, num_threads=a.threads, input_sentence_size=2000000,
        shuffle_input_sentence=True, seed_sentencepiece_size=1000000, minloglevel=1)
    sp = spm.SentencePieceProcessor(model_file=a.out + ".model")
    for split in ("train", "heldout"):
        ids = encode_docs(sp, os.path.join(a.corpus, split + ".txt"))
        with open(f"{a.out}.{split}.ids", "wb") as f:
            ids.tofile(f)
        print(f"{split}: {len(ids)} tokens")


if __name__ == "__main__":
    main()
