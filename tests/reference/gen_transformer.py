"""PyTorch reference cases for stensor's Transformer stacks and causal hints, beyond the shared
attention.json: nn.TransformerDecoder, nn.Transformer, and is_causal on MultiheadAttention and
the encoder layer. Written in the format of ../shared/reference/FORMAT.md with that
directory's gen_seq.py helpers (each case seeded from its name, every value in float64).

Run with a Python that has torch, from the repository root, with ../shared beside it:
    python tests/reference/gen_transformer.py tests/reference
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference"))
from gen_seq import causal, enc_cfg, make_case, mask, rnd, seed, write  # noqa: E402


def fresh_layers(stack, make):
    """nn.TransformerEncoder/Decoder deep-copy one layer: give each later layer its own weights."""
    for i in range(1, len(stack.layers)):
        stack.layers[i].load_state_dict(make().state_dict())


def moved_norm(norm, d):
    with torch.no_grad():
        norm.weight.copy_(1.0 + 0.1 * torch.randn(d))
        norm.bias.copy_(0.1 * torch.randn(d))


def decoder_case(name, cfg, num_layers, N=2, T=4, S=5):
    seed(name)
    m = nn.TransformerDecoder(nn.TransformerDecoderLayer(**cfg), num_layers, norm=nn.LayerNorm(cfg["d_model"]))
    fresh_layers(m, lambda: nn.TransformerDecoderLayer(**cfg))
    moved_norm(m.norm, cfg["d_model"])
    d, bf = cfg["d_model"], cfg["batch_first"]
    inputs = {"tgt": rnd(N, T, d) if bf else rnd(T, N, d), "memory": rnd(N, S, d) if bf else rnd(S, N, d),
              "tgt_mask": causal(T), "memory_key_padding_mask": mask([[0] * S, [0] * (S - 2) + [1, 1]])}

    def fn(tgt, memory, tgt_mask, memory_key_padding_mask):
        return m(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=memory_key_padding_mask,
                 tgt_is_causal=True)
    dcfg = dict(decoder_layer=cfg, num_layers=num_layers, norm={"kind": "LayerNorm", "normalized_shape": [d], "eps": 1e-5})
    return make_case(name, "TransformerDecoder", dcfg, inputs, fn, grad_inputs=("tgt", "memory"), module=m)


def transformer_case(name, cfg, n_enc, n_dec, N=2, S=5, T=4):
    seed(name)
    m = nn.Transformer(d_model=cfg["d_model"], nhead=cfg["nhead"], num_encoder_layers=n_enc,
                       num_decoder_layers=n_dec, dim_feedforward=cfg["dim_feedforward"], dropout=0.0,
                       activation=cfg["activation"], batch_first=cfg["batch_first"], norm_first=cfg["norm_first"])
    d, bf = cfg["d_model"], cfg["batch_first"]
    inputs = {"src": rnd(N, S, d) if bf else rnd(S, N, d), "tgt": rnd(N, T, d) if bf else rnd(T, N, d),
              "tgt_mask": causal(T),
              "src_key_padding_mask": mask([[0] * S, [0] * (S - 1) + [1]]),
              "memory_key_padding_mask": mask([[0] * S, [0] * (S - 1) + [1]])}

    def fn(src, tgt, tgt_mask, src_key_padding_mask, memory_key_padding_mask):
        return m(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=src_key_padding_mask,
                 memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=True)
    tcfg = dict(cfg, num_encoder_layers=n_enc, num_decoder_layers=n_dec)
    return make_case(name, "Transformer", tcfg, inputs, fn, grad_inputs=("src", "tgt"), module=m)


def mha_causal_case(name, N=2, L=4):
    seed(name)
    m = nn.MultiheadAttention(8, 2)
    inputs = {"x": rnd(L, N, 8), "attn_mask": causal(L)}

    def fn(x, attn_mask):
        out, _ = m(x, x, x, attn_mask=attn_mask, need_weights=False, is_causal=True)
        return out
    cfg = dict(embed_dim=8, num_heads=2, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
               kdim=None, vdim=None, batch_first=False)
    return make_case(name, "MultiheadAttention", cfg, inputs, fn, grad_inputs=("x",), module=m,
                     call=dict(need_weights=False, is_causal=True, self_attention=True))


def main():
    out = sys.argv[1]
    cs = [
        decoder_case("decoder_2l_norm_causal", enc_cfg(), 2),
        decoder_case("decoder_2l_gelu_norm_first_bf", enc_cfg(activation="gelu", batch_first=True, norm_first=True), 2),
        transformer_case("transformer_2_1", enc_cfg(), 2, 1),
        transformer_case("transformer_1_2_gelu_norm_first_bf",
                         enc_cfg(activation="gelu", batch_first=True, norm_first=True), 1, 2),
        mha_causal_case("mha_is_causal_self"),
    ]
    write(out, "transformer", cs)


if __name__ == "__main__":
    main()
