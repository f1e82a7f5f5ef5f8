/* test_hf_model.c — Hugging Face model directories (model/hf_load.h) against an independent
 * float64 forward, the GGUF copy of the same weights, and bad inputs. No network, no fixtures:
 * every model is written here from seeded random weights.
 *
 * Model: 2 layers, d_model 64, 4 query / 2 KV heads, head_dim 16, d_ff 96, vocab 97, 20 tokens.
 * Weights are k · 2^-s with |k| <= 255, so they are exact in BF16, F16, F32 and F64 and the
 * reference sees exactly the values the file holds.
 *
 * Reference (ref_forward below): written from transformers' modeling_llama.py / modeling_qwen2.py
 * conventions in double, sharing no code with model/: RMSNorm x · rsqrt(mean(x²) + eps) · w,
 * rotate_half RoPE (q · cos + rotate_half(q) · sin with cos = cat(cos(pos·inv_freq), same)),
 * the RoPE attention factor multiplying cos and sin, repeat_kv GQA (query head h reads KV head
 * h / (H / Hkv)), causal softmax of q·k / sqrt(head_dim), SwiGLU MLP, the final norm and lm_head
 * (embed_tokens when tied). inv_freq per rope_scaling type is re-derived from
 * modeling_rope_utils.py in ref_inv_freq (dynamic: computed for seq_len = the 20-token prompt, as
 * one transformers forward call does).
 *
 * Checks:
 *  1. per case (llama BF16 single file untied; llama F32 sharded with index, tied; llama F16 with
 *     each rope_scaling type: linear, dynamic (max_position_embeddings 8 < 20 tokens), llama3,
 *     yarn (with and without attention_factor / original_max_position_embeddings); qwen2 F16 tied
 *     and qwen2 BF16 sharded with yarn, both with q/k/v biases): logits at all
 *     20 positions vs the reference, relative L2 <= 1e-5 (fp32 runtime vs float64); and the test's
 *     power: the reference with adjacent pairing, and (scaled cases) without the scaling, differs
 *     from the runtime by more than 1e-2, i.e. a pairing or scaling bug cannot pass; the same in two
 *     forward calls (13 + 7 tokens) vs the reference made of the same two calls (dynamic scaling
 *     recomputes its base per call, as transformers does; checked to differ from one call);
 *  0. published config.json files (Llama-3.1-8B, SmolLM2-135M, Mistral-7B-v0.3, Qwen2.5-0.5B) give the right
 *     hyper-parameters and llama3 frequencies;
 *  2. the same F32 weights written as a GGUF (llama.cpp's converter layout: Q and K rows permuted
 *     so that adjacent pairs rotate; llama3 as a rope_freqs tensor of divisors, linear as
 *     rope.scaling.type / rope.scaling.factor) give the logits of the HF directory within relative
 *     L2 1e-5; qwen2 likewise with unpermuted Q/K (NeoX pairing) and attn_{q,k,v}.bias;
 *  3. bad inputs exit 2 with one line naming the file and the key / tensor: truncated file, data
 *     offsets out of range, dtype / byte-count mismatch, shape mismatch, unsupported dtype, missing
 *     shard, unknown architecture, unknown rope_scaling type, unknown config key, an extra tensor
 *     (a bias on llama), a missing one (qwen2 without biases), and llama_load on a directory
 *     without tokenizer.json;
 *  4. llama_load on a complete directory (tokenizer.json, tokenizer_config.json): tokenizer, chat
 *     template and the logits of the weights-only load. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/mem.h"
#include "core/rng.h"
#include "model/hf_config.h"
#include "model/hf_load.h"
#include "model/rope.h"
#include "model/llama.h"
#include "test.h"
#include "test_child.h"

enum { NL = 2, D = 64, H = 4, HKV = 2, HD = 16, FF = 96, V = 97, T = 20 };

/* ---- tiny model weights ------------------------------------------------------------------- */

typedef struct {
    double *embed, *norm, *lm_head;
    double *attn_norm[NL], *wq[NL], *wk[NL], *wv[NL], *wo[NL], *bq[NL], *bk[NL], *bv[NL];
    double *ffn_norm[NL], *wg[NL], *wu[NL], *wd[NL];
} weights;

/* n values k · 2^-s, k uniform in [-255, 255] (lo, hi: a narrower k range for norms). */
static double *rnd(rng_t *r, size_t n, int s, int lo, int hi) {
    double *x = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) x[i] = ldexp((double)rng_range(r, lo, hi), -s);
    return x;
}

static void make_weights(weights *w, uint64_t seed) {
    rng_t r = rng_seed(seed, 1);
    w->embed = rnd(&r, (size_t)V * D, 8, -255, 255);
    w->norm = rnd(&r, D, 7, 96, 160);
    w->lm_head = rnd(&r, (size_t)V * D, 9, -255, 255);
    for (int l = 0; l < NL; l++) {
        w->attn_norm[l] = rnd(&r, D, 7, 96, 160);
        w->wq[l] = rnd(&r, (size_t)H * HD * D, 8, -255, 255); /* large q, k: RoPE angles matter */
        w->wk[l] = rnd(&r, (size_t)HKV * HD * D, 8, -255, 255);
        w->wv[l] = rnd(&r, (size_t)HKV * HD * D, 10, -255, 255);
        w->wo[l] = rnd(&r, (size_t)D * H * HD, 10, -255, 255);
        w->bq[l] = rnd(&r, (size_t)H * HD, 7, -255, 255);
        w->bk[l] = rnd(&r, (size_t)HKV * HD, 7, -255, 255);
        w->bv[l] = rnd(&r, (size_t)HKV * HD, 8, -255, 255);
        w->ffn_norm[l] = rnd(&r, D, 7, 96, 160);
        w->wg[l] = rnd(&r, (size_t)FF * D, 10, -255, 255);
        w->wu[l] = rnd(&r, (size_t)FF * D, 10, -255, 255);
        w->wd[l] = rnd(&r, (size_t)D * FF, 10, -255, 255);
    }
}

static void free_weights(weights *w) {
    free(w->embed); free(w->norm); free(w->lm_head);
    for (int l = 0; l < NL; l++) {
        free(w->attn_norm[l]); free(w->wq[l]); free(w->wk[l]); free(w->wv[l]); free(w->wo[l]);
        free(w->bq[l]); free(w->bk[l]); free(w->bv[l]);
        free(w->ffn_norm[l]); free(w->wg[l]); free(w->wu[l]); free(w->wd[l]);
    }
}

/* ---- a test case: architecture, dtype, layout, rope_scaling ------------------------------- */

typedef enum { RS_NONE, RS_LINEAR, RS_DYNAMIC, RS_LLAMA3, RS_YARN } ref_scaling;

typedef enum {
    F_NONE, F_TRUNCATE, F_OFFSET, F_BYTES, F_SHAPE, F_MISSING_SHARD, F_ARCH, F_ROPE_TYPE, F_CONFIG_KEY, F_BIAS_ON_LLAMA,
    F_OVERLAP, F_TRAILING, F_METADATA, F_NAN, F_BOTH_FILES, F_ROPE_CONFLICT
} fault;

typedef struct {
    const char *name;
    const char *arch;  /* "LlamaForCausalLM" | "Qwen2ForCausalLM" */
    const char *dtype; /* "BF16" | "F16" | "F32" | "F64" */
    bool sharded, tied, bias;
    int max_pos;       /* max_position_embeddings */
    double theta;
    ref_scaling rs;
    double factor, low_ff, high_ff, beta_fast, beta_slow, attn_factor; /* attn_factor 0: absent */
    int orig_max;      /* original_max_position_embeddings, 0: absent */
    fault fault;
} hf_case;

/* ---- writers ------------------------------------------------------------------------------- */

typedef struct {
    char name[96];
    const double *x;
    int rows, cols; /* rows 0: 1-D */
} wt;

static int list_tensors(const weights *w, const hf_case *c, wt *out) {
    int n = 0;
#define ADD(nm, p, r, cl) (snprintf(out[n].name, sizeof out[n].name, "%s", nm), out[n].x = (p), out[n].rows = (r), out[n].cols = (cl), n++)
    ADD("model.embed_tokens.weight", w->embed, V, D);
    ADD("model.norm.weight", w->norm, 0, D);
    if (!c->tied) ADD("lm_head.weight", w->lm_head, V, D);
    for (int l = 0; l < NL; l++) {
        char b[96];
#define L(s, p, r, cl) (snprintf(b, sizeof b, "model.layers.%d.%s", l, s), ADD(b, p, r, cl))
        L("input_layernorm.weight", w->attn_norm[l], 0, D);
        L("self_attn.q_proj.weight", w->wq[l], H * HD, D);
        L("self_attn.k_proj.weight", w->wk[l], HKV * HD, D);
        L("self_attn.v_proj.weight", w->wv[l], HKV * HD, D);
        if (c->bias) {
            L("self_attn.q_proj.bias", w->bq[l], 0, H * HD);
            L("self_attn.k_proj.bias", w->bk[l], 0, HKV * HD);
            L("self_attn.v_proj.bias", w->bv[l], 0, HKV * HD);
        }
        L("self_attn.o_proj.weight", w->wo[l], D, H * HD);
        L("post_attention_layernorm.weight", w->ffn_norm[l], 0, D);
        L("mlp.gate_proj.weight", w->wg[l], FF, D);
        L("mlp.up_proj.weight", w->wu[l], FF, D);
        L("mlp.down_proj.weight", w->wd[l], D, FF);
#undef L
    }
#undef ADD
    return n;
}

/* Bits of x (exactly representable: k · 2^-s, |k| < 256) as IEEE half. */
static uint16_t f16_bits(double x) {
    if (x == 0) return 0;
    uint16_t s = x < 0 ? 0x8000 : 0;
    int e;
    double f = frexp(fabs(x), &e); /* |x| = f 2^e, f in [0.5, 1): 1.m 2^(E - 15) with E = e - 1 + 15 */
    return (uint16_t)(s | (uint16_t)((e + 14) << 10) | (uint16_t)((2 * f - 1) * 1024));
}

static int dtype_bytes(const char *dt) { return !strcmp(dt, "F64") ? 8 : !strcmp(dt, "F32") ? 4 : 2; }

static void put_value(FILE *fp, const char *dt, double x) {
    if (!strcmp(dt, "F64")) {
        fwrite(&x, 8, 1, fp);
    } else if (!strcmp(dt, "F32")) {
        float f = (float)x;
        fwrite(&f, 4, 1, fp);
    } else if (!strcmp(dt, "BF16")) {
        float f = (float)x;
        uint32_t u;
        memcpy(&u, &f, 4);
        uint16_t b = (uint16_t)(u >> 16); /* exact: the low 16 bits are zero */
        fwrite(&b, 2, 1, fp);
    } else {
        uint16_t b = f16_bits(x);
        fwrite(&b, 2, 1, fp);
    }
}

/* Writes tensors t[0..n) to path as safetensors of dtype dt, with fault f applied. */
static void write_st(const char *path, const wt *t, int n, const char *dt, fault f) {
    json_t *h = json_object();
    json_object_set_new(h, "__metadata__", f == F_METADATA ? json_pack("{s:i}", "format", 1) : json_pack("{s:s}", "format", "pt"));
    size_t off = 0;
    const int es = dtype_bytes(dt);
    for (int i = 0; i < n; i++) {
        size_t ne = (size_t)(t[i].rows ? t[i].rows : 1) * t[i].cols;
        json_t *shape = t[i].rows ? json_pack("[i,i]", t[i].rows, t[i].cols) : json_pack("[i]", t[i].cols);
        if (f == F_SHAPE && strstr(t[i].name, "layers.1.self_attn.q_proj.weight"))
            shape = (json_decref(shape), json_pack("[i,i]", t[i].rows / 2, t[i].cols * 2));
        size_t end = off + ne * es;
        if (f == F_OFFSET && i == n - 1) end += 4096;
        if (f == F_BYTES && i == 1) end -= es / 2 ? es / 2 : 1;
        const size_t begin = f == F_OVERLAP && i == 1 ? off - es : off; /* shares one element with tensor 0 */
        if (f == F_OVERLAP && i == 1) end -= es;
        json_object_set_new(h, t[i].name, json_pack("{s:s,s:o,s:[I,I]}", "dtype", f == F_BYTES && i == 1 ? "F16" : dt,
                                                     "shape", shape, "data_offsets", (json_int_t)begin, (json_int_t)end));
        off += ne * es;
    }
    char *hdr = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    FILE *fp = fopen(path, "wb");
    uint64_t hl = strlen(hdr);
    fwrite(&hl, 8, 1, fp);
    fwrite(hdr, 1, hl, fp);
    free(hdr);
    for (int i = 0; i < n; i++) {
        size_t ne = (size_t)(t[i].rows ? t[i].rows : 1) * t[i].cols;
        for (size_t j = 0; j < ne; j++) put_value(fp, dt, f == F_NAN && i == n - 1 && j == 3 ? NAN : t[i].x[j]);
    }
    if (f == F_TRAILING) fwrite("trailing bytes!!", 1, 16, fp);
    fclose(fp);
    if (f == F_TRUNCATE) truncate(path, (off_t)(8 + hl + off / 2));
}

static void write_config(const char *path, const hf_case *c) {
    json_t *o = json_pack("{s:[s],s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:f,s:i,s:b,s:s,s:s,s:i,s:i,s:b}",
                          "architectures", c->fault == F_ARCH ? "GPTNeoXForCausalLM" : c->arch, "model_type", "llama",
                          "hidden_size", D, "intermediate_size", FF, "num_hidden_layers", NL, "num_attention_heads", H,
                          "num_key_value_heads", HKV, "head_dim", HD, "vocab_size", V, "rms_norm_eps", 1e-5,
                          "rope_theta", c->theta, "max_position_embeddings", c->max_pos, "tie_word_embeddings", c->tied,
                          "hidden_act", "silu", "torch_dtype", "bfloat16", "bos_token_id", 1, "eos_token_id", 2,
                          "attention_bias", false);
    if (strcmp(c->arch, "Qwen2ForCausalLM") == 0) { /* as Qwen2.5's configs: window keys present, unused */
        json_object_set_new(o, "use_sliding_window", json_false());
        json_object_set_new(o, "sliding_window", json_integer(4096));
        json_object_set_new(o, "max_window_layers", json_integer(NL));
        json_object_del(o, "attention_bias");
    }
    if (c->fault == F_CONFIG_KEY) json_object_set_new(o, "quantization_config", json_pack("{s:s}", "quant_method", "gptq"));
    json_t *r = NULL;
    if (c->fault == F_ROPE_TYPE) r = json_pack("{s:s,s:f}", "rope_type", "longrope", "factor", 2.0);
    else if (c->fault == F_ROPE_CONFLICT) r = json_pack("{s:s,s:s,s:f}", "rope_type", "linear", "type", "dynamic", "factor", 2.0);
    else if (c->rs == RS_LINEAR) r = json_pack("{s:s,s:f}", "type", "linear", "factor", c->factor);
    else if (c->rs == RS_DYNAMIC) r = json_pack("{s:s,s:f}", "rope_type", "dynamic", "factor", c->factor);
    else if (c->rs == RS_LLAMA3)
        r = json_pack("{s:s,s:f,s:f,s:f,s:i}", "rope_type", "llama3", "factor", c->factor, "low_freq_factor", c->low_ff,
                      "high_freq_factor", c->high_ff, "original_max_position_embeddings", c->orig_max);
    else if (c->rs == RS_YARN) {
        r = json_pack("{s:s,s:f,s:f,s:f}", "rope_type", "yarn", "factor", c->factor, "beta_fast", c->beta_fast,
                      "beta_slow", c->beta_slow);
        if (c->attn_factor > 0) json_object_set_new(r, "attention_factor", json_real(c->attn_factor));
        if (c->orig_max > 0) json_object_set_new(r, "original_max_position_embeddings", json_integer(c->orig_max));
    }
    json_object_set_new(o, "rope_scaling", r ? r : json_null());
    json_dump_file(o, path, JSON_INDENT(2));
    json_decref(o);
}

/* Writes the case's directory under `dir` (created). */
static void write_dir(const char *dir, const hf_case *c, const weights *w) {
    mkdir(dir, 0755);
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_config(p, c);
    wt t[64];
    hf_case cc = *c;
    if (c->fault == F_BIAS_ON_LLAMA) cc.bias = true;
    int n = list_tensors(w, &cc, t);
    if (!c->sharded) {
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        write_st(p, t, n, c->dtype, c->fault);
        if (c->fault == F_BOTH_FILES) { /* an index beside the single file: which is the model? */
            snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
            FILE *fp = fopen(p, "w");
            fprintf(fp, "{\"weight_map\": {\"%s\": \"model.safetensors\"}}\n", t[0].name);
            fclose(fp);
        }
        return;
    }
    /* two shards: the first half of the list, then the rest; the index maps each name */
    const char *shard[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    int half = n / 2;
    json_t *wm = json_object();
    for (int i = 0; i < n; i++) json_object_set_new(wm, t[i].name, json_string(shard[i >= half]));
    json_t *ix = json_pack("{s:{s:i},s:o}", "metadata", "total_size", 0, "weight_map", wm);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    json_dump_file(ix, p, JSON_INDENT(2));
    json_decref(ix);
    snprintf(p, sizeof p, "%s/%s", dir, shard[0]);
    write_st(p, t, half, c->dtype, F_NONE);
    snprintf(p, sizeof p, "%s/%s", dir, shard[1]);
    if (c->fault != F_MISSING_SHARD) write_st(p, t + half, n - half, c->dtype, c->fault);
}

/* GGUF v3 of the case's weights (F32), llama.cpp's llama layout: Q, K rows permuted per head so
 * that rotation pairs are adjacent (convert_hf_to_gguf.py LlamaModel.permute: row h·hd + 2i + j of
 * the file is row h·hd + j·hd/2 + i of the checkpoint). rope_div: rope_freqs.weight, or NULL. */
static void put_gstr(FILE *fp, const char *s) {
    uint64_t n = strlen(s);
    fwrite(&n, 8, 1, fp);
    fwrite(s, 1, n, fp);
}
static void gguf_kv_u32(FILE *fp, const char *k, uint32_t v) {
    uint32_t ty = 4;
    put_gstr(fp, k); fwrite(&ty, 4, 1, fp); fwrite(&v, 4, 1, fp);
}
static void gguf_kv_f32(FILE *fp, const char *k, float v) {
    uint32_t ty = 6;
    put_gstr(fp, k); fwrite(&ty, 4, 1, fp); fwrite(&v, 4, 1, fp);
}

static double *permute_rows(const double *w, int n_head) {
    double *o = malloc(sizeof(double) * n_head * HD * D);
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < HD / 2; i++)
            for (int j = 0; j < 2; j++)
                memcpy(o + ((size_t)h * HD + 2 * i + j) * D, w + ((size_t)h * HD + j * HD / 2 + i) * D, sizeof(double) * D);
    return o;
}

static void write_gguf(const char *path, const hf_case *c, const weights *w, const float *rope_div) {
    wt t[64];
    int n = 0;
    double *perm[2 * NL];
    /* llama.cpp's converter permutes Q/K for llama only; qwen2 keeps the checkpoint's rows (NeoX) */
    const bool qwen2 = strcmp(c->arch, "Qwen2ForCausalLM") == 0;
    const char *an = qwen2 ? "qwen2" : "llama";
#define ADD(nm, p, r, cl) (snprintf(t[n].name, sizeof t[n].name, "%s", nm), t[n].x = (p), t[n].rows = (r), t[n].cols = (cl), n++)
    ADD("token_embd.weight", w->embed, V, D);
    ADD("output_norm.weight", w->norm, 0, D);
    if (!c->tied) ADD("output.weight", w->lm_head, V, D);
    for (int l = 0; l < NL; l++) {
        char b[96];
        perm[2 * l] = qwen2 ? NULL : permute_rows(w->wq[l], H);
        perm[2 * l + 1] = qwen2 ? NULL : permute_rows(w->wk[l], HKV);
#define L(s, p, r, cl) (snprintf(b, sizeof b, "blk.%d.%s", l, s), ADD(b, p, r, cl))
        L("attn_norm.weight", w->attn_norm[l], 0, D);
        L("attn_q.weight", qwen2 ? w->wq[l] : perm[2 * l], H * HD, D);
        L("attn_k.weight", qwen2 ? w->wk[l] : perm[2 * l + 1], HKV * HD, D);
        L("attn_v.weight", w->wv[l], HKV * HD, D);
        if (c->bias) {
            L("attn_q.bias", w->bq[l], 0, H * HD);
            L("attn_k.bias", w->bk[l], 0, HKV * HD);
            L("attn_v.bias", w->bv[l], 0, HKV * HD);
        }
        L("attn_output.weight", w->wo[l], D, H * HD);
        L("ffn_norm.weight", w->ffn_norm[l], 0, D);
        L("ffn_gate.weight", w->wg[l], FF, D);
        L("ffn_up.weight", w->wu[l], FF, D);
        L("ffn_down.weight", w->wd[l], D, FF);
#undef L
    }
    double div[HD / 2];
    if (rope_div) {
        for (int i = 0; i < HD / 2; i++) div[i] = rope_div[i];
        ADD("rope_freqs.weight", div, 0, HD / 2);
    }
#undef ADD
    FILE *fp = fopen(path, "wb");
    uint32_t ver = 3;
    uint64_t nt = (uint64_t)n, nkv = c->rs == RS_LINEAR ? 11 : 9;
    fwrite("GGUF", 1, 4, fp); fwrite(&ver, 4, 1, fp); fwrite(&nt, 8, 1, fp); fwrite(&nkv, 8, 1, fp);
    uint32_t sty = 8;
    put_gstr(fp, "general.architecture"); fwrite(&sty, 4, 1, fp); put_gstr(fp, an);
    char k[96];
#define KEY(x) (snprintf(k, sizeof k, "%s.%s", an, x), k)
    gguf_kv_u32(fp, KEY("block_count"), NL);
    gguf_kv_u32(fp, KEY("embedding_length"), D);
    gguf_kv_u32(fp, KEY("feed_forward_length"), FF);
    gguf_kv_u32(fp, KEY("attention.head_count"), H);
    gguf_kv_u32(fp, KEY("attention.head_count_kv"), HKV);
    gguf_kv_u32(fp, KEY("context_length"), (uint32_t)c->max_pos);
    gguf_kv_f32(fp, KEY("rope.freq_base"), (float)c->theta);
    gguf_kv_f32(fp, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    if (c->rs == RS_LINEAR) { /* llama.cpp's converter: rope.scaling.type "linear", rope.scaling.factor */
        put_gstr(fp, KEY("rope.scaling.type")); fwrite(&sty, 4, 1, fp); put_gstr(fp, "linear");
        gguf_kv_f32(fp, KEY("rope.scaling.factor"), (float)c->factor);
    }
#undef KEY
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        put_gstr(fp, t[i].name);
        uint32_t nd = t[i].rows ? 2 : 1, ty = 0;
        uint64_t ne0 = (uint64_t)t[i].cols, ne1 = (uint64_t)t[i].rows;
        fwrite(&nd, 4, 1, fp); fwrite(&ne0, 8, 1, fp);
        if (nd == 2) fwrite(&ne1, 8, 1, fp);
        fwrite(&ty, 4, 1, fp); fwrite(&off, 8, 1, fp);
        off += ((uint64_t)(t[i].rows ? t[i].rows : 1) * t[i].cols * 4 + 31) / 32 * 32;
    }
    while (ftell(fp) % 32) fputc(0, fp);
    for (int i = 0; i < n; i++) {
        size_t ne = (size_t)(t[i].rows ? t[i].rows : 1) * t[i].cols;
        for (size_t j = 0; j < ne; j++) put_value(fp, "F32", t[i].x[j]);
        while (ftell(fp) % 32) fputc(0, fp);
    }
    fclose(fp);
    for (int i = 0; i < 2 * NL; i++) free(perm[i]); /* NULL for qwen2 */
}

/* ---- float64 reference ------------------------------------------------------------------- */

/* inv_freq[HD/2] and the attention factor for case c at sequence length seq_len
 * (transformers modeling_rope_utils.py, re-derived; see model/rope.h for the formulas). */
static double ref_inv_freq(const hf_case *c, ref_scaling rs, int seq_len, double *inv) {
    const int dim = HD;
    double base = c->theta;
    if (rs == RS_DYNAMIC && seq_len > c->max_pos)
        base = base * pow(c->factor * seq_len / c->max_pos - (c->factor - 1), (double)dim / (dim - 2));
    for (int j = 0; j < dim / 2; j++) inv[j] = 1.0 / pow(base, (2.0 * j) / dim);
    if (rs == RS_LINEAR)
        for (int j = 0; j < dim / 2; j++) inv[j] = inv[j] / c->factor;
    if (rs == RS_LLAMA3) {
        double low_wavelen = c->orig_max / c->low_ff, high_wavelen = c->orig_max / c->high_ff;
        for (int j = 0; j < dim / 2; j++) {
            double wavelen = 2 * M_PI / inv[j];
            double llama = wavelen > low_wavelen ? inv[j] / c->factor : inv[j];
            double smooth = (c->orig_max / wavelen - c->low_ff) / (c->high_ff - c->low_ff);
            double smoothed = (1 - smooth) * llama / c->factor + smooth * llama;
            bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
            inv[j] = medium ? smoothed : llama;
        }
    }
    if (rs == RS_YARN) {
        double omax = c->orig_max ? c->orig_max : c->max_pos;
        double low = floor(dim * log(omax / (c->beta_fast * 2 * M_PI)) / (2 * log(c->theta)));
        double high = ceil(dim * log(omax / (c->beta_slow * 2 * M_PI)) / (2 * log(c->theta)));
        low = fmax(low, 0);
        high = fmin(high, dim - 1);
        if (low == high) high += 0.001;
        for (int j = 0; j < dim / 2; j++) {
            double ramp = fmin(fmax((j - low) / (high - low), 0), 1);
            double extrap = 1 - ramp;
            double pos_freq = pow(c->theta, (2.0 * j) / dim);
            inv[j] = 1 / (c->factor * pos_freq) * (1 - extrap) + 1 / pos_freq * extrap;
        }
        return c->attn_factor > 0 ? c->attn_factor : 0.1 * log(c->factor) + 1.0;
    }
    return 1.0;
}

static void ref_rmsnorm(double *y, const double *x, const double *w, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++) y[i] = x[i] * r * w[i];
}

/* y[out] = W[out][in] x (+ b) */
static void ref_linear(double *y, const double *W, const double *x, const double *b, int in, int out) {
    for (int o = 0; o < out; o++) {
        double s = b ? b[o] : 0;
        for (int i = 0; i < in; i++) s += W[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

/* q_embed = q cos + rotate_half(q) sin, rotate_half(x) = cat(-x[d/2:], x[:d/2]); adjacent = the
 * wrong (GGUF) pairing, for the power check. */
static void ref_rope(double *v, int pos, const double *inv, double af, bool adjacent) {
    double out[HD];
    for (int j = 0; j < HD; j++) {
        int f = j % (HD / 2); /* emb = cat(freqs, freqs) */
        double cs = cos(pos * inv[f]) * af, sn = sin(pos * inv[f]) * af;
        double rh = j < HD / 2 ? -v[j + HD / 2] : v[j - HD / 2];
        out[j] = v[j] * cs + rh * sn;
    }
    if (adjacent)
        for (int i = 0; i < HD / 2; i++) {
            double cs = cos(pos * inv[i]) * af, sn = sin(pos * inv[i]) * af;
            out[2 * i] = v[2 * i] * cs - v[2 * i + 1] * sn;
            out[2 * i + 1] = v[2 * i] * sn + v[2 * i + 1] * cs;
        }
    memcpy(v, out, sizeof out);
}

/* logits[T][V] of tokens[T] in two forward calls as transformers makes them with its KV cache:
 * positions 0 .. split-1, then split .. T-1 (split == T: one call). Dynamic scaling computes each
 * call's frequencies for seq_len = the call's last position + 1; cached keys keep theirs. */
static void ref_forward_split(const weights *w, const hf_case *c, const int *tok, ref_scaling rs, bool adjacent, int split,
                              double *logits) {
    static double x[T][D], q[T][H * HD], k[T][HKV * HD], v[T][HKV * HD], att[T][H * HD];
    double h[D], tmp[FF > D ? FF : D], g[FF], u[FF], inv1[HD / 2], inv2[HD / 2];
    double af1 = ref_inv_freq(c, rs, split, inv1), af2 = ref_inv_freq(c, rs, T, inv2);
    for (int t = 0; t < T; t++) memcpy(x[t], w->embed + (size_t)tok[t] * D, sizeof(double) * D);
    for (int l = 0; l < NL; l++) {
        for (int t = 0; t < T; t++) {
            ref_rmsnorm(h, x[t], w->attn_norm[l], D);
            ref_linear(q[t], w->wq[l], h, c->bias ? w->bq[l] : NULL, D, H * HD);
            ref_linear(k[t], w->wk[l], h, c->bias ? w->bk[l] : NULL, D, HKV * HD);
            ref_linear(v[t], w->wv[l], h, c->bias ? w->bv[l] : NULL, D, HKV * HD);
            const double *inv = t < split ? inv1 : inv2, af = t < split ? af1 : af2;
            for (int hh = 0; hh < H; hh++) ref_rope(q[t] + hh * HD, t, inv, af, adjacent);
            for (int hh = 0; hh < HKV; hh++) ref_rope(k[t] + hh * HD, t, inv, af, adjacent);
        }
        for (int t = 0; t < T; t++)
            for (int hh = 0; hh < H; hh++) {
                int kv = hh / (H / HKV); /* repeat_kv */
                double sc[T], mx = -1e300, sum = 0;
                for (int s = 0; s <= t; s++) {
                    double d = 0;
                    for (int j = 0; j < HD; j++) d += q[t][hh * HD + j] * k[s][kv * HD + j];
                    sc[s] = d / sqrt((double)HD);
                    mx = fmax(mx, sc[s]);
                }
                for (int s = 0; s <= t; s++) sum += (sc[s] = exp(sc[s] - mx));
                for (int j = 0; j < HD; j++) {
                    double a = 0;
                    for (int s = 0; s <= t; s++) a += sc[s] / sum * v[s][kv * HD + j];
                    att[t][hh * HD + j] = a;
                }
            }
        for (int t = 0; t < T; t++) {
            ref_linear(tmp, w->wo[l], att[t], NULL, H * HD, D);
            for (int i = 0; i < D; i++) x[t][i] += tmp[i];
            ref_rmsnorm(h, x[t], w->ffn_norm[l], D);
            ref_linear(g, w->wg[l], h, NULL, D, FF);
            ref_linear(u, w->wu[l], h, NULL, D, FF);
            for (int i = 0; i < FF; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            ref_linear(tmp, w->wd[l], g, NULL, FF, D);
            for (int i = 0; i < D; i++) x[t][i] += tmp[i];
        }
    }
    for (int t = 0; t < T; t++) {
        ref_rmsnorm(h, x[t], w->norm, D);
        ref_linear(logits + (size_t)t * V, c->tied ? w->embed : w->lm_head, h, NULL, D, V);
    }
}

static void ref_forward(const weights *w, const hf_case *c, const int *tok, ref_scaling rs, bool adjacent, double *logits) {
    ref_forward_split(w, c, tok, rs, adjacent, T, logits);
}

/* ---- checks -------------------------------------------------------------------------------- */

static double rel_l2(const float *a, const double *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

/* logits[T][V] of the runtime: one call for positions 0 .. split-1, one for the rest. */
static void run_model_split(const llama_model *m, const int *tok, int split, float *logits) {
    llama_state *s = llama_state_new(m, 64, 64);
    int32_t ids[T];
    for (int t = 0; t < T; t++) ids[t] = tok[t];
    llama_forward(m, s, ids, split, logits, split);
    if (split < T) llama_forward(m, s, ids + split, T - split, logits + (size_t)split * V, T - split);
    llama_state_free(s);
}

static void run_model(const llama_model *m, const int *tok, float *logits) { run_model_split(m, tok, T, logits); }

static char tmpdir[] = "/tmp/test_hf_model_XXXXXX";

static void check_case(const hf_case *c, const weights *w, const int *tok, float *hf_logits_out) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, c->name);
    write_dir(dir, c, w);
    llama_model *m = llama_load_hf_weights(dir);
    CHECK(m->tok == NULL && m->cfg.rope == ROPE_HALF && m->tied == c->tied && strcmp(m->quant, c->dtype) == 0 &&
              strcmp(m->name, c->name) == 0,
          "%s: loaded model fields (quant %s)", c->name, m->quant);
    if (!c->sharded) { /* sha256 of the manifest "<sha256>  config.json\n<sha256>  model.safetensors\n" */
        char p[300], h1[65], h2[65], man[200], want[65];
        snprintf(p, sizeof p, "%s/config.json", dir);
        sha256_file_hex(p, h1);
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        sha256_file_hex(p, h2);
        snprintf(man, sizeof man, "%s  config.json\n%s  model.safetensors\n", h1, h2);
        sha256_hex(man, strlen(man), want);
        CHECK(strcmp(m->sha256, want) == 0, "%s: sha256 %s, expected the manifest's %s", c->name, m->sha256, want);
    }
    static float lg[T * V];
    static double ref[T * V], bad[T * V];
    run_model(m, tok, lg);
    ref_forward(w, c, tok, c->rs, false, ref);
    double e = rel_l2(lg, ref, T * V);
    CHECK(e <= 1e-5, "%s: logits vs float64 reference: relative L2 %.3g", c->name, e);
    ref_forward(w, c, tok, c->rs, true, bad);
    double ep = rel_l2(lg, bad, T * V);
    CHECK(ep > 1e-2, "%s: the adjacent-pairing reference is only %.3g away (the test could not catch a pairing bug)", c->name, ep);
    if (c->rs != RS_NONE) {
        ref_forward(w, c, tok, RS_NONE, false, bad);
        double es = rel_l2(lg, bad, T * V);
        CHECK(es > 1e-2, "%s: the unscaled reference is only %.3g away (the test could not catch a scaling bug)", c->name, es);
        printf("  %-16s rel L2 %.2e (adjacent pairing: %.2e, no scaling: %.2e)\n", c->name, e, ep, es);
    } else {
        printf("  %-16s rel L2 %.2e (adjacent pairing: %.2e)\n", c->name, e, ep);
    }
    /* two calls (prefill 13, then 7 tokens): the same logits, except that dynamic scaling
     * recomputes the frequencies per call (the reference does the same) */
    run_model_split(m, tok, 13, lg);
    ref_forward_split(w, c, tok, c->rs, false, 13, bad);
    double e2 = rel_l2(lg, bad, T * V);
    CHECK(e2 <= 1e-5, "%s: two calls vs float64 reference: relative L2 %.3g", c->name, e2);
    if (c->rs == RS_DYNAMIC) {
        double e1 = rel_l2(lg, ref, T * V);
        CHECK(e1 > 1e-3, "%s: dynamic scaling in two calls equals one call (%.3g): the per-call base is not recomputed", c->name, e1);
    }
    if (hf_logits_out) run_model(m, tok, hf_logits_out);
    llama_free(m);
}

/* The GGUF copy of case c's weights (F32, permuted Q/K) gives the HF directory's logits. */
static void check_gguf_twin(const hf_case *c, const weights *w, const int *tok) {
    static float hf[T * V], gg[T * V];
    check_case(c, w, tok, hf);
    float div[HD / 2], *divp = NULL;
    if (c->rs == RS_LLAMA3) { /* llama.cpp's rope_freqs: default inv_freq / llama3 inv_freq */
        double a[HD / 2], b[HD / 2];
        ref_inv_freq(c, RS_NONE, T, a);
        ref_inv_freq(c, RS_LLAMA3, T, b);
        for (int i = 0; i < HD / 2; i++) div[i] = (float)(a[i] / b[i]);
        divp = div;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s.gguf", tmpdir, c->name);
    write_gguf(path, c, w, divp);
    llama_model *m = llama_load_gguf_weights(path);
    const bool qwen2 = strcmp(c->arch, "Qwen2ForCausalLM") == 0;
    CHECK(m->cfg.rope == (qwen2 ? ROPE_HALF : ROPE_ADJACENT) && (m->rope_freq_div != NULL) == (divp != NULL) &&
              (m->layers[0].bqkv != NULL) == c->bias,
          "%s: GGUF twin fields", c->name);
    run_model(m, tok, gg);
    double num = 0, den = 0;
    for (int i = 0; i < T * V; i++) {
        num += ((double)gg[i] - hf[i]) * ((double)gg[i] - hf[i]);
        den += (double)hf[i] * hf[i];
    }
    CHECK(sqrt(num / den) <= 1e-5, "%s: GGUF twin vs HF directory: relative L2 %.3g", c->name, sqrt(num / den));
    printf("  %-16s GGUF twin vs HF: rel L2 %.2e\n", c->name, sqrt(num / den));
    llama_free(m);
}

/* ---- bad inputs ---------------------------------------------------------------------------- */

static void child_load_weights(const char *dir) { llama_free(llama_load_hf_weights(dir)); }
static void child_load(const char *dir) { llama_free(llama_load(dir)); }

/* Writes base with fault f (and dtype, if given) as directory `name`, runs fn on it in a child:
 * exit 2, one stderr line naming `file_part` and containing `what`. */
static void check_bad(const hf_case *base, const weights *w, fault f, const char *dtype, const char *name,
                      const char *file_part, const char *what, void (*fn)(const char *)) {
    hf_case c = *base;
    c.fault = f;
    c.name = name;
    if (dtype) c.dtype = dtype;
    if (f == F_MISSING_SHARD) c.sharded = true;
    char dir[256], msg[1024];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    write_dir(dir, &c, w);
    int lines, rc = test_child(fn, dir, tmpdir, msg, sizeof msg, &lines);
    CHECK(rc == 2 && lines == 1 && strstr(msg, dir) && strstr(msg, file_part) && strstr(msg, what),
          "bad input %s: exit %d, %d lines: %s", name, rc, lines, msg);
}

/* llama_load on a complete directory: weights plus a 4-token byte-level BPE tokenizer.json and a
 * tokenizer_config.json with a chat template; the logits are those of the weights-only load. */
static void check_full_load(const hf_case *base, const weights *w, const int *tok) {
    hf_case c = *base;
    c.name = "full_dir";
    char dir[256], p[300];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, c.name);
    write_dir(dir, &c, w);
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    FILE *fp = fopen(p, "w");
    fputs("{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\"id\": 3,"
          " \"content\": \"<|end|>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false,"
          " \"normalized\": false, \"special\": true}], \"normalizer\": null, \"pre_tokenizer\": {\"type\":"
          " \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},"
          " \"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true,"
          " \"trim_offsets\": true, \"use_regex\": true}, \"model\": {\"type\": \"BPE\", \"dropout\": null,"
          " \"unk_token\": null, \"continuing_subword_prefix\": null, \"end_of_word_suffix\": null,"
          " \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": false,"
          " \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"<|end|>\": 3}, \"merges\": [\"a b\"]}}", fp);
    fclose(fp);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    fp = fopen(p, "w");
    fputs("{\"eos_token\": \"<|end|>\", \"chat_template\": \"{{ messages[0].content }}<|end|>\"}", fp);
    fclose(fp);
    llama_model *m = llama_load(dir);
    int32_t *ids = NULL;
    int n = tok_encode(m->tok, "abab", 4, false, false, &ids);
    CHECK(tok_vocab_size(m->tok) == 4 && n == 2 && ids[0] == 2 && ids[1] == 2 && tok_is_eog(m->tok, 3) &&
              m->chat_template && strcmp(m->chat_template, "{{ messages[0].content }}<|end|>") == 0,
          "full directory: tokenizer (%d tokens, %d ids) and chat template", tok_vocab_size(m->tok), n);
    dam_free(ids);
    static float a[T * V], bb[T * V];
    run_model(m, tok, a);
    llama_model *m2 = llama_load_hf_weights(dir);
    run_model(m2, tok, bb);
    CHECK(memcmp(a, bb, sizeof a) == 0 && strcmp(m->sha256, m2->sha256) == 0, "full directory: same logits and sha256 as the weights alone");
    llama_free(m2);
    llama_free(m);
}

/* Published config.json files (huggingface.co, the models' repositories) read as the runtime's
 * hyper-parameters. */
static void check_real_configs(void) {
    static const char *const LLAMA31_8B =
        "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
        " \"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009], \"hidden_act\": \"silu\","
        " \"hidden_size\": 4096, \"initializer_range\": 0.02, \"intermediate_size\": 14336,"
        " \"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\","
        " \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, \"pretraining_tp\": 1,"
        " \"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0,"
        " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},"
        " \"rope_theta\": 500000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\","
        " \"transformers_version\": \"4.42.3\", \"use_cache\": true, \"vocab_size\": 128256}";
    static const char *const SMOLLM2_135M =
        "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
        " \"bos_token_id\": 1, \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 576,"
        " \"initializer_range\": 0.041666666666666664, \"intermediate_size\": 1536, \"is_llama_config\": true,"
        " \"max_position_embeddings\": 8192, \"model_type\": \"llama\", \"num_attention_heads\": 9,"
        " \"num_hidden_layers\": 30, \"num_key_value_heads\": 3, \"pad_token_id\": 2, \"pretraining_tp\": 1,"
        " \"rms_norm_eps\": 1e-05, \"rope_interleaved\": false, \"rope_scaling\": null, \"rope_theta\": 100000,"
        " \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.42.3\","
        " \"use_cache\": true, \"vocab_size\": 49152}";
    static const char *const MISTRAL_7B_V03 =
        "{\"architectures\": [\"MistralForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 1,"
        " \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02,"
        " \"intermediate_size\": 14336, \"max_position_embeddings\": 32768, \"model_type\": \"mistral\","
        " \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-05,"
        " \"rope_theta\": 1000000.0, \"sliding_window\": null, \"tie_word_embeddings\": false,"
        " \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.42.0.dev0\", \"use_cache\": true,"
        " \"vocab_size\": 32768}";
    static const char *const QWEN25_05B =
        "{\"architectures\": [\"Qwen2ForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 151643,"
        " \"eos_token_id\": 151645, \"hidden_act\": \"silu\", \"hidden_size\": 896, \"initializer_range\": 0.02,"
        " \"intermediate_size\": 4864, \"max_position_embeddings\": 32768, \"max_window_layers\": 21,"
        " \"model_type\": \"qwen2\", \"num_attention_heads\": 14, \"num_hidden_layers\": 24,"
        " \"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"sliding_window\": 32768,"
        " \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.43.1\","
        " \"use_cache\": true, \"use_sliding_window\": false, \"vocab_size\": 151936}";
    char p[300];
    snprintf(p, sizeof p, "%s/config_real.json", tmpdir);
    llama_config c;
    hf_extra x;
    FILE *fp = fopen(p, "w");
    fputs(LLAMA31_8B, fp);
    fclose(fp);
    hf_config_read(p, &c, &x);
    CHECK(c.arch == ARCH_LLAMA && c.n_layers == 32 && c.d_model == 4096 && c.n_heads == 32 && c.n_kv_heads == 8 &&
              c.head_dim == 128 && c.d_ff == 14336 && c.vocab == 128256 && c.n_ctx_train == 131072 &&
              c.rope_theta == 500000.0f && c.rope == ROPE_HALF && !x.tied && c.rope_scaling.type == ROPE_SCALING_LLAMA3 &&
              c.rope_scaling.factor == 8 && c.rope_scaling.low_freq_factor == 1 && c.rope_scaling.high_freq_factor == 4 &&
              c.rope_scaling.original_max_pos == 8192,
          "Llama-3.1-8B config");
    /* llama3 frequencies, d = 128, θ = 5e5: i = 0: wavelength 2π < 8192/4 = 2048, kept (1.0);
     * i = 63: 5e5^(-126/128) = 2.4386e-6, wavelength 2.58e6 > 8192: / 8 */
    double inv[64];
    rope_inv_freq(inv, 128, c.rope_theta, &c.rope_scaling, c.n_ctx_train, 0, NULL);
    CHECK(inv[0] == 1.0 && fabs(inv[63] - pow(5e5, -126.0 / 128) / 8) < 1e-18, "llama3 inv_freq %g %g", inv[0], inv[63]);
    fp = fopen(p, "w");
    fputs(SMOLLM2_135M, fp);
    fclose(fp);
    hf_config_read(p, &c, &x);
    CHECK(c.n_layers == 30 && c.d_model == 576 && c.head_dim == 64 && c.n_kv_heads == 3 && x.tied &&
              c.rope_scaling.type == ROPE_SCALING_NONE && c.rope_theta == 100000.0f,
          "SmolLM2-135M config");
    fp = fopen(p, "w");
    fputs(MISTRAL_7B_V03, fp);
    fclose(fp);
    hf_config_read(p, &c, &x);
    CHECK(c.arch == ARCH_LLAMA && c.head_dim == 128 && c.vocab == 32768 && c.rope_theta == 1e6f && !x.tied, "Mistral-7B-v0.3 config");
    fp = fopen(p, "w");
    fputs(QWEN25_05B, fp);
    fclose(fp);
    hf_config_read(p, &c, &x);
    CHECK(c.arch == ARCH_QWEN2 && c.qkv_bias && c.rope == ROPE_HALF && c.head_dim == 64 && c.n_kv_heads == 2 &&
              c.norm_eps == 1e-6f && x.tied && c.swa_window == 0,
          "Qwen2.5-0.5B config");
}

int main(void) {
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    weights w;
    make_weights(&w, 20261130);
    int tok[T];
    rng_t r = rng_seed(7, 2);
    for (int t = 0; t < T; t++) tok[t] = (int)rng_range(&r, 0, V - 1);

    check_real_configs();
    const char *LL = "LlamaForCausalLM", *Q2 = "Qwen2ForCausalLM";
    /* name, arch, dtype, sharded, tied, bias, max_pos, theta, scaling, factor, low_ff, high_ff,
     * beta_fast, beta_slow, attn_factor, orig_max */
    const hf_case cases[] = {
        {"llama_bf16", LL, "BF16", false, false, false, 64, 10000, RS_NONE, 0, 0, 0, 0, 0, 0, 0, F_NONE},
        {"llama_f32_shard", LL, "F32", true, true, false, 64, 10000, RS_NONE, 0, 0, 0, 0, 0, 0, 0, F_NONE},
        {"llama_linear", LL, "F16", false, false, false, 64, 10000, RS_LINEAR, 4, 0, 0, 0, 0, 0, 0, F_NONE},
        {"llama_dynamic", LL, "F16", false, false, false, 8, 10000, RS_DYNAMIC, 3, 0, 0, 0, 0, 0, 0, F_NONE},
        /* wavelengths 2π·10^(i/2): i = 0 high frequency, 1..2 interpolated (8 < w < 32), 3..7 divided */
        {"llama_llama3", LL, "F16", false, true, false, 64, 10000, RS_LLAMA3, 8, 1, 4, 0, 0, 0, 32, F_NONE},
        {"llama_yarn", LL, "F16", false, false, false, 64, 10000, RS_YARN, 4, 0, 0, 32, 1, 0, 0, F_NONE},
        {"llama_yarn_af", LL, "F32", false, false, false, 256, 500000, RS_YARN, 8, 0, 0, 16, 2, 1.3, 32, F_NONE},
        {"qwen2_f16", Q2, "F16", false, true, true, 64, 1000000, RS_NONE, 0, 0, 0, 0, 0, 0, 0, F_NONE},
        {"qwen2_bf16_yarn", Q2, "BF16", true, false, true, 64, 10000, RS_YARN, 4, 0, 0, 32, 1, 0, 32, F_NONE},
    };
    const int n_cases = (int)(sizeof cases / sizeof cases[0]);

    /* bad inputs first: their children are forked before any forward pass starts OpenMP's
     * threads (LeakSanitizer in a child forked from a threaded parent cannot suspend the threads
     * and adds a warning line to stderr in the sanitizer build) */
    const hf_case *b = &cases[0];
    check_bad(b, &w, F_TRUNCATE, NULL, "bad_truncate", "model.safetensors", "past the end", child_load_weights);
    check_bad(b, &w, F_OFFSET, NULL, "bad_offset", "model.safetensors", "tensor model.layers.1.mlp.down_proj.weight: data_offsets", child_load_weights);
    check_bad(b, &w, F_BYTES, "F32", "bad_bytes", "model.safetensors", "tensor model.norm.weight: 254 bytes for 64 elements of F16", child_load_weights);
    check_bad(b, &w, F_SHAPE, NULL, "bad_shape", "model.safetensors", "tensor model.layers.1.self_attn.q_proj.weight has shape [32, 128], expected [64, 64]", child_load_weights);
    check_bad(b, &w, F_NONE, "F64", "bad_dtype", "model.safetensors", "tensor model.embed_tokens.weight has dtype F64", child_load_weights);
    check_bad(b, &w, F_MISSING_SHARD, NULL, "bad_shard", "model-00002-of-00002.safetensors", "cannot open", child_load_weights);
    check_bad(b, &w, F_ARCH, NULL, "bad_arch", "config.json", "\"architectures\" = \"GPTNeoXForCausalLM\" is not supported", child_load_weights);
    check_bad(b, &w, F_ROPE_TYPE, NULL, "bad_rope", "config.json", "\"rope_scaling.rope_type\" = \"longrope\" is not supported", child_load_weights);
    check_bad(b, &w, F_CONFIG_KEY, NULL, "bad_key", "config.json", "\"quantization_config\" is not supported", child_load_weights);
    check_bad(b, &w, F_BIAS_ON_LLAMA, NULL, "bad_bias", "model.safetensors", "tensor model.layers.0.self_attn.k_proj.bias is not used by the llama architecture", child_load_weights);
    hf_case nb = cases[7];
    nb.bias = false;
    check_bad(&nb, &w, F_NONE, NULL, "bad_qwen2_bias", "model.safetensors", "tensor model.layers.0.self_attn.q_proj.bias is missing", child_load_weights);
    check_bad(b, &w, F_NONE, NULL, "bad_tokenizer", "tokenizer.json", "unable to open", child_load);
    /* the format's tiling rule (no overlap, no hole, nothing after the data), its metadata map,
     * non-finite weights, and an ambiguous directory */
    check_bad(b, &w, F_OVERLAP, NULL, "bad_overlap", "model.safetensors", "overlap tensor", child_load_weights);
    check_bad(b, &w, F_TRAILING, NULL, "bad_trailing", "model.safetensors", "after the last tensor belong to no tensor", child_load_weights);
    check_bad(b, &w, F_METADATA, NULL, "bad_metadata", "model.safetensors", "__metadata__[\"format\"] must be a string", child_load_weights);
    check_bad(b, &w, F_NAN, NULL, "bad_nan", "model.safetensors", "element 3 is NaN", child_load_weights);
    check_bad(b, &w, F_ROPE_CONFLICT, NULL, "bad_rope_conflict", "config.json", "keys \"rope_scaling.rope_type\" and \"rope_scaling.type\" disagree", child_load_weights);
    check_bad(b, &w, F_BOTH_FILES, NULL, "bad_both", "bad_both", "holds both model.safetensors and model.safetensors.index.json", child_load_weights);

    for (int i = 0; i < n_cases; i++) check_case(&cases[i], &w, tok, NULL);

    /* GGUF twins: plain llama (untied and tied) and llama3 as rope_freqs */
    hf_case tw = cases[1];
    tw.name = "twin_llama_tied";
    tw.sharded = false;
    check_gguf_twin(&tw, &w, tok);
    tw = cases[0];
    tw.name = "twin_llama";
    tw.dtype = "F32";
    check_gguf_twin(&tw, &w, tok);
    tw = cases[4];
    tw.name = "twin_llama3";
    tw.dtype = "F32";
    check_gguf_twin(&tw, &w, tok);

    tw = cases[2];
    tw.name = "twin_linear";
    tw.dtype = "F32";
    check_gguf_twin(&tw, &w, tok);
    tw = cases[7]; /* qwen2: the GGUF keeps the checkpoint's Q/K rows (NeoX pairing), biases as attn_*.bias */
    tw.name = "twin_qwen2";
    tw.dtype = "F32";
    tw.tied = false;
    check_gguf_twin(&tw, &w, tok);

    check_full_load(&cases[0], &w, tok);

    free_weights(&w);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (getenv("TEST_HF_MODEL_KEEP")) printf("  kept %s (TEST_HF_MODEL_KEEP)\n", tmpdir); /* to inspect the models */
    else if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    return test_done("hf_model");
}
