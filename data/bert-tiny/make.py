"""Makes the tiny Hugging Face BERT that `examples/bert.rs` loads, and the hidden states it must
reproduce. Run with a Python that has torch, transformers and safetensors (none of them a
dependency of the project):

    python data/bert-tiny/make.py data/bert-tiny

Writes model.safetensors (BertModel's state dict, Hugging Face's names unchanged),
config.json, and reference.safetensors (a padded batch of token ids, token types, the
attention mask and BertModel's last_hidden_state and pooler_output for them, in eval mode).
The weights are random (seed 0, initializer_range 0.2 so the attention is far from uniform):
the point is the layout and the arithmetic, not a trained model.
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

out = sys.argv[1]
torch.manual_seed(0)
config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=16, type_vocab_size=2,
                    hidden_act="gelu", layer_norm_eps=1e-12, initializer_range=0.2)
model = BertModel(config).eval()
config.to_json_file(os.path.join(out, "config.json"))
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out, "model.safetensors"))

input_ids = torch.randint(1, 100, (2, 8))
attention_mask = torch.ones(2, 8, dtype=torch.int64)
attention_mask[1, 5:] = 0
input_ids[1, 5:] = 0  # [PAD]
token_type_ids = torch.zeros(2, 8, dtype=torch.int64)
token_type_ids[:, 4:] = 1
with torch.no_grad():
    y = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
save_file({"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
           "last_hidden_state": y.last_hidden_state.contiguous(), "pooler_output": y.pooler_output.contiguous()},
          os.path.join(out, "reference.safetensors"))
print(sorted(model.state_dict().keys())[:6], len(model.state_dict()))
