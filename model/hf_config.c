/* hf_config.c — see hf_config.h. */
#include "model/hf_config.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/json_file.h"

/* Keys that carry no computation this runtime does (token ids, provenance, training-only). */
static const char *const INFO_KEYS[] = {
    "_name_or_path", "architectures", "model_type", "torch_dtype", "dtype", "transformers_version", "bos_token_id",
    "eos_token_id", "pad_token_id", "initializer_range", "use_cache", "attention_dropout", "pretraining_tp",
    "sliding_window", "max_window_layers", "output_attentions", "output_hidden_states", "return_dict",
    "use_return_dict", "is_decoder", "is_llama_config", "transformers.js_config", "tokenizer_class",
    "_attn_implementation_autoset", "base_model_tp_plan", "base_model_pp_plan", "unsloth_fixed", NULL};

/* Keys read below (checked or used). */
static const char *const READ_KEYS[] = {
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "vocab_size", "rms_norm_eps", "rope_theta", "max_position_embeddings", "tie_word_embeddings",
    "rope_scaling", "rope_parameters", "hidden_act", "attention_bias", "mlp_bias", "partial_rotary_factor",
    "use_sliding_window", "layer_types", "rope_interleaved", NULL};

static bool in_list(const char *const *l, const char *k) {
    for (; *l; l++)
        if (strcmp(*l, k) == 0) return true;
    return false;
}

/* Required integer key `key` of o (named `where` + key in messages), in 1..max. */
static int get_int(const char *path, const json_t *o, const char *where, const char *key, int max) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) dam_die(DAM_EXIT_INPUT, "%s: key \"%s%s\" is missing", path, where, key);
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        dam_die(DAM_EXIT_INPUT, "%s: key \"%s%s\" must be an integer in 1..%d", path, where, key, max);
    return (int)json_integer_value(v);
}

/* As get_int; dflt if the key is absent or null. */
static int get_int_or(const char *path, const json_t *o, const char *where, const char *key, int max, int dflt) {
    json_t *v = json_object_get(o, key);
    return v == NULL || json_is_null(v) ? dflt : get_int(path, o, where, key, max);
}

/* Number key (integer or real) `key` of o (named `where` in messages), dflt if absent or null. */
static double get_num_or(const char *path, const json_t *o, const char *where, const char *key, double dflt) {
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) return dflt;
    if (!json_is_number(v)) dam_die(DAM_EXIT_INPUT, "%s: key \"%s%s\" must be a number", path, where, key);
    double d = json_number_value(v);
    if (!isfinite(d)) dam_die(DAM_EXIT_INPUT, "%s: key \"%s%s\" must be finite", path, where, key);
    return d;
}

static bool get_bool_or(const char *path, const json_t *o, const char *where, const char *key, bool dflt) {
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) return dflt;
    if (!json_is_boolean(v)) dam_die(DAM_EXIT_INPUT, "%s: key \"%s%s\" must be true or false", path, where, key);
    return json_is_true(v);
}

/* config.json "rope_scaling" (or "rope_parameters") into s; *theta from rope_parameters when there. */
static void read_rope(const char *path, const json_t *root, rope_scaling *s, double *theta) {
    *s = (rope_scaling){.type = ROPE_SCALING_NONE, .attn_factor = 1.0};
    const char *where = "rope_scaling.";
    json_t *r = json_object_get(root, "rope_scaling");
    json_t *rp = json_object_get(root, "rope_parameters");
    if (rp && !json_is_null(rp)) {
        if (r && !json_is_null(r)) dam_die(DAM_EXIT_INPUT, "%s: keys \"rope_scaling\" and \"rope_parameters\" are both set", path);
        r = rp;
        where = "rope_parameters.";
        if (!json_is_object(r)) dam_die(DAM_EXIT_INPUT, "%s: key \"rope_parameters\" must be an object", path);
        *theta = get_num_or(path, r, where, "rope_theta", *theta);
    }
    if (r == NULL || json_is_null(r)) return;
    if (!json_is_object(r)) dam_die(DAM_EXIT_INPUT, "%s: key \"rope_scaling\" must be an object or null", path);
    json_t *t = json_object_get(r, "rope_type"), *t_old = json_object_get(r, "type");
    if (t && t_old && !json_equal(t, t_old)) /* transformers reads one of them: which one is meant? */
        dam_die(DAM_EXIT_INPUT, "%s: keys \"%srope_type\" and \"%stype\" disagree", path, where, where);
    if (t == NULL) t = t_old;
    if (t == NULL || !json_is_string(t)) dam_die(DAM_EXIT_INPUT, "%s: key \"%srope_type\" must be a string", path, where);
    const char *ty = json_string_value(t);
    static const char *const OK[][12] = {
        /* type, then the keys it accepts (besides rope_type / type / rope_theta) */
        {"default", NULL},
        {"linear", "factor", NULL},
        {"dynamic", "factor", "original_max_position_embeddings", NULL},
        {"llama3", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings", NULL},
        {"yarn", "factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor", "mscale",
         "mscale_all_dim", "truncate", NULL},
    };
    const rope_scaling_type TY[] = {ROPE_SCALING_NONE, ROPE_SCALING_LINEAR, ROPE_SCALING_DYNAMIC, ROPE_SCALING_LLAMA3,
                                    ROPE_SCALING_YARN};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(ty, OK[i][0]) == 0) which = i;
    if (which < 0)
        dam_die(DAM_EXIT_INPUT, "%s: key \"%srope_type\" = \"%.40s\" is not supported (supported: default, linear, dynamic, llama3, yarn)",
                path, where, ty);
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
        if (!strcmp(k, "rope_type") || !strcmp(k, "type") || (r == rp && !strcmp(k, "rope_theta"))) continue;
        if (!in_list(OK[which] + 1, k))
            dam_die(DAM_EXIT_INPUT, "%s: key \"%s%s\" is not used by rope_type \"%s\" (not supported)", path, where, k, ty);
    }
    s->type = TY[which];
    if (s->type == ROPE_SCALING_NONE) return;
    s->factor = get_num_or(path, r, where, "factor", NAN);
    if (!(s->factor >= 1.0)) dam_die(DAM_EXIT_INPUT, "%s: key \"%sfactor\" must be a number >= 1", path, where);
    if (s->type == ROPE_SCALING_DYNAMIC && json_object_get(r, "original_max_position_embeddings"))
        /* transformers' dynamic NTK uses max_position_embeddings (a TODO there); a different value
         * here would mean the checkpoint expects something else */
        if (get_num_or(path, r, where, "original_max_position_embeddings", 0) != get_num_or(path, root, "", "max_position_embeddings", 0))
            dam_die(DAM_EXIT_INPUT, "%s: key \"%soriginal_max_position_embeddings\" differs from max_position_embeddings (not supported for dynamic)",
                    path, where);
    if (s->type == ROPE_SCALING_LLAMA3) {
        s->low_freq_factor = get_num_or(path, r, where, "low_freq_factor", NAN);
        s->high_freq_factor = get_num_or(path, r, where, "high_freq_factor", NAN);
        s->original_max_pos = get_int(path, r, where, "original_max_position_embeddings", 1 << 30);
        if (!(s->low_freq_factor > 0) || !(s->high_freq_factor > s->low_freq_factor))
            dam_die(DAM_EXIT_INPUT, "%s: keys \"%slow_freq_factor\", \"high_freq_factor\" must satisfy 0 < low < high", path, where);
    }
    if (s->type == ROPE_SCALING_YARN) {
        s->original_max_pos = get_int_or(path, r, where, "original_max_position_embeddings", 1 << 30, 0);
        /* transformers: `get("beta_fast") or 32`, so 0 also means the default */
        s->beta_fast = get_num_or(path, r, where, "beta_fast", 0);
        s->beta_slow = get_num_or(path, r, where, "beta_slow", 0);
        if (s->beta_fast == 0) s->beta_fast = 32;
        if (s->beta_slow == 0) s->beta_slow = 1;
        if (!(s->beta_fast > 0) || !(s->beta_slow > 0))
            dam_die(DAM_EXIT_INPUT, "%s: keys \"%sbeta_fast\", \"beta_slow\" must be positive", path, where);
        s->truncate = get_bool_or(path, r, where, "truncate", true);
        double af = get_num_or(path, r, where, "attention_factor", NAN);
        double ms = get_num_or(path, r, where, "mscale", 0), msa = get_num_or(path, r, where, "mscale_all_dim", 0);
        if (!isnan(af)) s->attn_factor = af;
        else if (ms != 0 && msa != 0) s->attn_factor = rope_yarn_mscale(s->factor, ms) / rope_yarn_mscale(s->factor, msa);
        else s->attn_factor = rope_yarn_mscale(s->factor, 1.0);
        if (!(s->attn_factor > 0)) dam_die(DAM_EXIT_INPUT, "%s: key \"%sattention_factor\" must be positive", path, where);
    }
}

void hf_config_read(const char *path, llama_config *c, hf_extra *x) {
    json_t *root = json_file_load(path, JSON_REJECT_DUPLICATES);
    if (!json_is_object(root)) dam_die(DAM_EXIT_INPUT, "%s: not a JSON object", path);

    /* architecture first: the other keys' meaning depends on it */
    json_t *archs = json_object_get(root, "architectures");
    if (!json_is_array(archs) || json_array_size(archs) != 1 || !json_is_string(json_array_get(archs, 0)))
        dam_die(DAM_EXIT_INPUT, "%s: key \"architectures\" must be an array of one string", path);
    const char *an = json_string_value(json_array_get(archs, 0));
    memset(c, 0, sizeof *c);
    *x = (hf_extra){0};
    if (strcmp(an, "LlamaForCausalLM") == 0) {
        c->arch = ARCH_LLAMA;
    } else if (strcmp(an, "MistralForCausalLM") == 0) {
        json_t *sw = json_object_get(root, "sliding_window");
        if (sw && !json_is_null(sw))
            dam_die(DAM_EXIT_INPUT, "%s: key \"sliding_window\" is set: MistralForCausalLM with sliding-window attention is not supported", path);
        c->arch = ARCH_LLAMA;
    } else if (strcmp(an, "Qwen2ForCausalLM") == 0) {
        c->arch = ARCH_QWEN2;
        c->qkv_bias = true;
    } else {
        dam_die(DAM_EXIT_INPUT,
                "%s: key \"architectures\" = \"%.60s\" is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)",
                path, an);
    }

    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (!in_list(INFO_KEYS, k) && !in_list(READ_KEYS, k))
            dam_die(DAM_EXIT_INPUT, "%s: key \"%s\" is not supported (unknown to this loader; it may change the model)", path, k);
    }
    json_t *act = json_object_get(root, "hidden_act");
    if (act && !(json_is_string(act) && strcmp(json_string_value(act), "silu") == 0))
        dam_die(DAM_EXIT_INPUT, "%s: key \"hidden_act\" must be \"silu\" (the only activation implemented for %s)", path, an);
    if (c->arch != ARCH_QWEN2 && get_bool_or(path, root, "", "attention_bias", false))
        dam_die(DAM_EXIT_INPUT, "%s: key \"attention_bias\" = true is not supported for %s", path, an);
    if (get_bool_or(path, root, "", "mlp_bias", false)) dam_die(DAM_EXIT_INPUT, "%s: key \"mlp_bias\" = true is not supported", path);
    if (get_bool_or(path, root, "", "use_sliding_window", false))
        dam_die(DAM_EXIT_INPUT, "%s: key \"use_sliding_window\" = true is not supported", path);
    /* nanotron's flag (SmolLM2 writes false); transformers ignores it and rotates halves, so a
     * checkpoint saying true was trained with another pairing than transformers would use */
    if (get_bool_or(path, root, "", "rope_interleaved", false))
        dam_die(DAM_EXIT_INPUT, "%s: key \"rope_interleaved\" = true is not supported (transformers rotates halves)", path);
    if (get_num_or(path, root, "", "partial_rotary_factor", 1.0) != 1.0)
        dam_die(DAM_EXIT_INPUT, "%s: key \"partial_rotary_factor\": partial rotary embeddings are not supported", path);
    json_t *lt = json_object_get(root, "layer_types");
    if (lt && !json_is_null(lt)) {
        if (!json_is_array(lt)) dam_die(DAM_EXIT_INPUT, "%s: key \"layer_types\" must be an array", path);
        for (size_t i = 0; i < json_array_size(lt); i++) {
            json_t *e = json_array_get(lt, i);
            if (!json_is_string(e) || strcmp(json_string_value(e), "full_attention") != 0)
                dam_die(DAM_EXIT_INPUT, "%s: key \"layer_types[%zu]\" must be \"full_attention\" (other layer types are not supported)", path, i);
        }
    }

    c->d_model = get_int(path, root, "", "hidden_size", 1 << 20);
    c->d_ff = get_int(path, root, "", "intermediate_size", 1 << 22);
    c->n_layers = get_int(path, root, "", "num_hidden_layers", 1024);
    c->n_heads = get_int(path, root, "", "num_attention_heads", 4096);
    c->n_kv_heads = get_int_or(path, root, "", "num_key_value_heads", 4096, c->n_heads);
    c->vocab = get_int(path, root, "", "vocab_size", 1 << 24);
    c->n_ctx_train = get_int(path, root, "", "max_position_embeddings", 1 << 30);
    if (c->n_heads % c->n_kv_heads != 0)
        dam_die(DAM_EXIT_INPUT, "%s: key \"num_attention_heads\" = %d is not a multiple of num_key_value_heads = %d", path,
                c->n_heads, c->n_kv_heads);
    if (json_object_get(root, "head_dim") == NULL && c->d_model % c->n_heads != 0)
        dam_die(DAM_EXIT_INPUT, "%s: key \"hidden_size\" = %d is not a multiple of num_attention_heads = %d", path, c->d_model, c->n_heads);
    c->head_dim = get_int_or(path, root, "", "head_dim", 512, c->d_model / c->n_heads);
    if (c->head_dim < 2 || c->head_dim % 2 != 0)
        dam_die(DAM_EXIT_INPUT, "%s: key \"head_dim\" = %d must be even and in 2..512", path, c->head_dim);
    c->norm_eps = (float)get_num_or(path, root, "", "rms_norm_eps", NAN);
    if (!(c->norm_eps > 0)) dam_die(DAM_EXIT_INPUT, "%s: key \"rms_norm_eps\" must be a positive number", path);
    double theta = get_num_or(path, root, "", "rope_theta", 10000.0);
    read_rope(path, root, &c->rope_scaling, &theta);
    if (!(theta > 1)) dam_die(DAM_EXIT_INPUT, "%s: key \"rope_theta\" = %g must be > 1", path, theta);
    c->rope_theta = (float)theta;
    x->tied = get_bool_or(path, root, "", "tie_word_embeddings", false);

    c->rope = ROPE_HALF; /* rotate_half: HF checkpoints are not permuted */
    c->rope_theta_swa = c->rope_theta;
    c->swa_window = 0;
    c->qk_norm = false;
    c->post_norms = false;
    c->act = FFN_SILU;
    c->embd_scale = 1.0f;
    c->q_scale = 1.0f;
    c->final_softcap = 0.0f;
    json_decref(root);
}
