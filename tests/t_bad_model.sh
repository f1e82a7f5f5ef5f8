#!/usr/bin/env bash
# Bad model files: each must give a one-line error naming the file, exit status 2, within seconds
# (no crash, no hang). Corrupted copies are made by tests/corrupt_gguf.py from the real model.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
dam="${DAM_BIN:-$root/build/dam}"
model="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0

# expect NAME FILE PATTERN [CMD...]: runs CMD (default: tokenize) on FILE, wants exit 2, one
# stderr line mentioning FILE and matching PATTERN.
expect() {
    local name="$1" file="$2" pattern="$3"; shift 3
    local cmd=("$@"); [ ${#cmd[@]} -eq 0 ] && cmd=(tokenize --model "$file" hello)
    n=$((n + 1))
    timeout 60 "$dam" "${cmd[@]}" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines; lines=$(wc -l <"$tmp/err")
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$file" "$tmp/err" || ! grep -qiE -- "$pattern" "$tmp/err"; then
        echo "FAIL bad_model/$name: exit $rc, $lines stderr lines: $(head -c 300 "$tmp/err")"
        fail=$((fail + 1))
    fi
}

expect missing "$tmp/nope.gguf" "cannot open"
: >"$tmp/empty.gguf"; expect empty "$tmp/empty.gguf" "empty"
for mode in truncate_header truncate_tensors magic version tensor_count kv_count string_len \
            tensor_type_unknown tensor_offset tensor_dims pre_tokenizer; do
    python3 "$root/tests/corrupt_gguf.py" "$model" "$tmp/$mode.gguf" "$mode"
done
expect truncate_header "$tmp/truncate_header.gguf" "truncated"
expect truncate_tensors "$tmp/truncate_tensors.gguf" "past the end"
expect magic "$tmp/magic.gguf" "not a GGUF file"
expect version "$tmp/version.gguf" "unsupported GGUF version 99"
expect tensor_count "$tmp/tensor_count.gguf" "tensor count .* cannot fit"
expect kv_count "$tmp/kv_count.gguf" "metadata count .* cannot fit"
expect string_len "$tmp/string_len.gguf" "truncated"
expect tensor_type_unknown "$tmp/tensor_type_unknown.gguf" "unknown tensor type 99"
expect tensor_offset "$tmp/tensor_offset.gguf" "blk.29.ffn_up.weight.*past the end"
expect tensor_dims "$tmp/tensor_dims.gguf" "7 dimensions"
expect pre_tokenizer "$tmp/pre_tokenizer.gguf" "unsupported tokenizer.ggml.pre"
# A known but unsupported quantisation type is only noticed when the weights are dequantised.
python3 "$root/tests/corrupt_gguf.py" "$model" "$tmp/iq4nl.gguf" tensor_type_unsupported
expect tensor_type_unsupported "$tmp/iq4nl.gguf" "blk.0.ffn_down.weight has type IQ4_NL" generate --model "$tmp/iq4nl.gguf" --prompt hi
# Unsupported architecture and tokenizer type: named in the message.
python3 "$root/tests/corrupt_gguf.py" "$model" "$tmp/arch.gguf" architecture
expect architecture "$tmp/arch.gguf" "general.architecture \"xxxxx\" is not supported \(supported: llama, gemma3, qwen2\)" \
    generate --model "$tmp/arch.gguf" --prompt hi
python3 "$root/tests/corrupt_gguf.py" "$model" "$tmp/extra.gguf" extra_tensor
expect extra_tensor "$tmp/extra.gguf" "tensor blk.0.attn_q.bias is not used by the llama architecture" \
    generate --model "$tmp/extra.gguf" --prompt hi
# The converse: qwen2 requires its Q/K/V biases (the llama file relabelled qwen2 has none).
python3 "$root/tests/corrupt_gguf.py" "$model" "$tmp/qwen2.gguf" qwen2_no_bias
expect qwen2_no_bias "$tmp/qwen2.gguf" "tensor blk.0.attn_q.bias is missing" generate --model "$tmp/qwen2.gguf" --prompt hi
python3 "$root/tests/corrupt_gguf.py" "$model" "$tmp/tokmodel.gguf" tokenizer_model
expect tokenizer_model "$tmp/tokmodel.gguf" "unsupported tokenizer.ggml.model \"bert\" \(supported: gpt2, llama\)"
# Hugging Face directories (test_hf_model checks the loader's errors; here: they reach the CLI).
mkdir -p "$tmp/hfdir" && echo '{"architectures": ["GPTNeoXForCausalLM"]}' >"$tmp/hfdir/config.json"
expect hf_architecture "$tmp/hfdir" "config.json: key \"architectures\" = \"GPTNeoXForCausalLM\" is not supported" \
    generate --model "$tmp/hfdir" --prompt hi
expect hf_tokenizer "$tmp/hfdir" "tokenizer.json: cannot read: unable to open" tokenize --model "$tmp/hfdir" hi
# Usage errors name the flag or value.
expect unknown_model "no-such-model" "no-such-model" tokenize --model no-such-model hi
expect bad_max_new "max-new" "--max-new: \"abc\" is not an integer" generate --model "$model" --prompt hi --max-new abc

echo "bad_model                    $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n cases, $fail failed)"
[ $fail -eq 0 ]
