/* estimate_none.c — kernels/cuda/estimate.h in a build without the CUDA backend (the default
 * `make`): the dynamic methods' GPU estimation is only reached through `--device cuda`, which such a
 * build refuses first (model/llama_cuda_none.c); a direct call exits with status 2 all the same. */
#include "kernels/cuda/estimate.h"

#include <stddef.h>

#include "core/error.h"

static void no_cuda(void) {
    dam_die(DAM_EXIT_INPUT, "GPU mask estimation: this dam was built without the CUDA backend (build it with "
                            "`make cuda-dam`; docs/cuda.md)");
}

est_cuda_ws *est_cuda_ws_new(void) { no_cuda(); return NULL; }
void est_cuda_ws_free(est_cuda_ws *ws) { (void)ws; }
est_cuda_phases est_cuda_last_phases(const est_cuda_ws *ws) {
    (void)ws;
    no_cuda();
    return (est_cuda_phases){0, 0, 0};
}
void *est_cuda_host_buffer(est_cuda_ws *ws, size_t bytes) {
    (void)ws, (void)bytes;
    no_cuda();
    return NULL;
}
void est_cuda_vertical_slash(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                             int n_heads, int n_kv_heads, int d, const int *w, double **d_col, double **d_diag) {
    (void)ws, (void)q, (void)q_stride, (void)k, (void)kv_cap, (void)n, (void)n_heads, (void)n_kv_heads, (void)d, (void)w;
    (void)d_col, (void)d_diag;
    no_cuda();
}
void est_cuda_top_k(est_cuda_ws *ws, const double *score, int n, int n_heads, const int *forced, const int *k,
                    int32_t *top, int top_stride) {
    (void)ws, (void)score, (void)n, (void)n_heads, (void)forced, (void)k, (void)top, (void)top_stride;
    no_cuda();
}
void est_cuda_xattention(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                         int n_heads, int n_kv_heads, int d, const int *stride, const double *tau, uint64_t *keep,
                         double *scores) {
    (void)ws, (void)q, (void)q_stride, (void)k, (void)kv_cap, (void)n, (void)n_heads, (void)n_kv_heads, (void)d;
    (void)stride, (void)tau, (void)keep, (void)scores;
    no_cuda();
}
void est_cuda_row_means(est_cuda_ws *ws, const uint16_t *x, int heads, long x_head, long stride, int r0, int n_rows,
                        int d, int group, double *out) {
    (void)ws, (void)x, (void)heads, (void)x_head, (void)stride, (void)r0, (void)n_rows, (void)d, (void)group, (void)out;
    no_cuda();
}
void est_cuda_block_map_select(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                               int n_heads, int n_kv_heads, int d, const uint8_t *which, const double *gamma,
                               uint64_t *keep) {
    (void)ws, (void)q, (void)q_stride, (void)k, (void)kv_cap, (void)n, (void)n_heads, (void)n_kv_heads, (void)d;
    (void)which, (void)gamma, (void)keep;
    no_cuda();
}
void est_cuda_cover_pool(est_cuda_ws *ws, const double *col, const double *diag, int n, int n_heads, double div,
                         const double *g, int *count, double *pool) {
    (void)ws, (void)col, (void)diag, (void)n, (void)n_heads, (void)div, (void)g, (void)count, (void)pool;
    no_cuda();
}
void est_cuda_dam_online(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                         int n_heads, int n_kv_heads, int d, int h0, int h1, const est_dam_online_head *par,
                         est_dam_online_result *res, uint8_t *sel, uint64_t *blocks) {
    (void)ws, (void)q, (void)q_stride, (void)k, (void)kv_cap, (void)n, (void)n_heads, (void)n_kv_heads, (void)d;
    (void)h0, (void)h1, (void)par, (void)res, (void)sel, (void)blocks;
    no_cuda();
}
void est_cuda_dam_online_map(est_cuda_ws *ws, int n, double *A) {
    (void)ws, (void)n, (void)A;
    no_cuda();
}
