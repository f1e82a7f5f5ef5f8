/* rope.c — see rope.h. */
#include "model/rope.h"

#include <math.h>

const char *rope_scaling_name(rope_scaling_type t) {
    static const char *const N[] = {"none", "linear", "dynamic", "llama3", "yarn"};
    return N[t];
}

/* YaRN's inverse of the rotation count: the dimension index whose wavelength fits r times into O. */
static double yarn_corr_dim(double r, int d, double theta, double O) {
    return d * log(O / (r * 2.0 * M_PI)) / (2.0 * log(theta));
}

double rope_yarn_mscale(double s, double m) { return s <= 1.0 ? 1.0 : 0.1 * m * log(s) + 1.0; }

double rope_inv_freq(double *inv_freq, int d, double theta, const rope_scaling *s, int max_pos, int64_t seq_len,
                     const float *div) {
    const int half = d / 2;
    const rope_scaling_type type = s ? s->type : ROPE_SCALING_NONE;
    double base = theta, attn = 1.0;
    if (type == ROPE_SCALING_DYNAMIC && seq_len > max_pos)
        base = theta * pow(s->factor * (double)seq_len / max_pos - (s->factor - 1.0), (double)d / (d - 2));
    for (int i = 0; i < half; i++) inv_freq[i] = 1.0 / pow(base, 2.0 * i / d);

    if (type == ROPE_SCALING_LINEAR) {
        for (int i = 0; i < half; i++) inv_freq[i] /= s->factor;
    } else if (type == ROPE_SCALING_LLAMA3) {
        const double O = s->original_max_pos;
        const double low_wl = O / s->low_freq_factor, high_wl = O / s->high_freq_factor;
        for (int i = 0; i < half; i++) {
            const double wl = 2.0 * M_PI / inv_freq[i];
            if (wl > low_wl) {
                inv_freq[i] /= s->factor;
            } else if (!(wl < high_wl)) { /* medium frequency: interpolate */
                const double sm = (O / wl - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
                inv_freq[i] = (1.0 - sm) * inv_freq[i] / s->factor + sm * inv_freq[i];
            }
        }
    } else if (type == ROPE_SCALING_YARN) {
        const double O = s->original_max_pos > 0 ? s->original_max_pos : max_pos;
        double lo = yarn_corr_dim(s->beta_fast, d, theta, O), hi = yarn_corr_dim(s->beta_slow, d, theta, O);
        if (s->truncate) {
            lo = floor(lo);
            hi = ceil(hi);
        }
        if (lo < 0) lo = 0;
        if (hi > d - 1) hi = d - 1;
        if (lo == hi) hi += 0.001;
        for (int i = 0; i < half; i++) {
            double ramp = (i - lo) / (hi - lo);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            const double e = 1.0 - ramp; /* extrapolation weight */
            inv_freq[i] = inv_freq[i] / s->factor * (1.0 - e) + inv_freq[i] * e;
        }
        attn = s->attn_factor;
    }
    if (div)
        for (int i = 0; i < half; i++) inv_freq[i] /= div[i];
    return attn;
}
