#!/usr/bin/env python3
"""peers_attention.py — times the peers of our CUDA attention kernels on the SAME shapes and masks, in
one run on one GPU, so every speedup is a ratio measured side by side (issue 8; docs/cuda.md, "Peers in
the same run").

What it times (bf16, batch 1, causal prefill attention, inputs uniform in [-1, 1) as
tests/cuda/bench_attention_masked_cuda.cu uses):
  dense   torch SDPA with each backend forced (cuDNN, FlashAttention-2, memory-efficient), GQA through
          enable_gqa=True, or K/V repeated to the query heads when a backend refuses GQA (said so);
          ms and TFLOP/s counting causal FLOPs 4·n²·d·H/2.
  sparse  FlexAttention (torch.compile) with BlockMasks from create_block_mask over mask_mods that are
          exactly the benchmark's MaskPlan layouts (tests/cuda/bench_layouts.h): dam_like (per head:
          4 sinks + 12 xorshift columns below 512 + window 64 + 4 far diagonals), sink128_win4096 and
          sink128_win1024 (skipped when window >= n, as the bench does), and the block layouts
          blocks05 .. blocks30 (per head: the diagonal 64-block of every query block and each
          earlier key block with probability 5 .. 30 %, an xorshift stream per head); block sizes
          128 and 64.
          Per case: exact elem density, Flex's tile density, Flex ms, cuDNN dense ms, the ideal
          max(elem density x cuDNN ms, bytes(Q, K, V read + O written) / copy bandwidth), Flex / ideal.
  ceilings a device-to-device copy (bytes read + written / time) and a bf16 8192^3 matmul.
Timing: a CUDA event pair around each call (calls queued, one synchronisation at the end), 3 warm-ups,
median of 100 / 40 / 15 repeats (n <= 4K / 16K / larger), inputs rotated among up to 8 sets so that
they exceed the 60 MB L2 (as the bench does).
Checks: every mask_mod is compared element by element with the layout's explicit mask at n = min(n,
4352) (and its kept pairs with the exact count), and every timed call's output, on 256 sampled query rows,
with a float32 reference under the explicit mask; a failed check makes the exit status 1.

The layouts are a bit-exact port of the C generator; `--print-layouts` prints them (no torch needed)
in the format of tests/tools/bench_layouts_dump, and tests/t_peers_layouts.sh compares the two.
Exit status: 0 all ran and passed, 1 a correctness check failed, 2 bad arguments or no GPU.
"""
import argparse
import bisect
import datetime
import functools
import json
import math
import platform
import statistics
import sys
import time
import warnings

MASK64 = (1 << 64) - 1
SHAPES = {"smollm2": (9, 3, 64), "llama3-8b": (32, 8, 128)}  # name: (H query heads, KV heads, d)
LAYOUTS = ["dam_like", "sink128_win4096", "sink128_win1024"]
BLOCK_PCT = [5, 10, 20, 30]  # the block layouts blocks05 .. blocks30 (tests/cuda/bench_layouts.h)
BLOCK_LAYOUTS = [f"blocks{p:02d}" for p in BLOCK_PCT]
BLOCK_PRINT_HEADS, BLOCK_PRINT_MAX_N = 4, 16384  # --print-layouts: block layouts for these heads and n
COL_TABLE = 512    # the mask_mod's per-head column table covers keys 0..511 (every layout's columns)
DIAG_TABLE = 4096  # its diagonal table offsets 0..4095 (every layout's diagonals)
CHECK_N = 4352     # largest n of the element-by-element mask_mod check: past 4096 + 128, so the widest
                   # window separates from its sinks
CHECK_ROWS = 256   # query rows of each output check
TOL_ABS = 2.0 ** -7  # output check tolerances, as tests/cuda/test_attention_masked_cuda.cu
TOL_REL_L2 = 1e-2


# ---- layouts (pure Python: bit-exact with tests/cuda/bench_layouts.h) ----

def dam_like_parts(h):
    """The raw DAM-like parts of head h, as bench_dam_like_parts: (16 columns, 68 diagonals), unsorted,
    columns possibly repeated. uint64 arithmetic is done mod 2**64."""
    s = 0x2545F4914F6CDD1D ^ (((h + 1) * 0x9E3779B97F4A7C15) & MASK64)
    cols = [0, 1, 2, 3]
    for _ in range(12):
        s ^= s >> 12
        s = (s ^ (s << 25)) & MASK64
        s ^= s >> 27
        cols.append(4 + (((s * 2685821657736338717) & MASK64) >> 33) % 508)
    diags = list(range(64)) + [448 + 16 * i + (h * 7 + i * 5) % 16 for i in range(4)]
    return cols, diags


@functools.lru_cache(maxsize=None)
def block_lists(h, pct, n):
    """The block layout of head h at pct percent for n tokens, as bench_blocks: per query block qb the
    sorted key blocks it keeps (each earlier one with probability pct / 100 by one xorshift64 draw per
    (qb, kb) in order, then qb itself); a tuple of tuples, cached (pure Python, O(n^2 / 4096) draws)."""
    s = ((0x9E3779B97F4A7C15 * (h + 1)) & MASK64) ^ ((pct * 0xD1B54A32D192ED03) & MASK64) ^ 1
    rows = []
    for qb in range(-(-n // 64)):
        row = []
        for kb in range(qb):
            s ^= s >> 12
            s = (s ^ (s << 25)) & MASK64
            s ^= s >> 27
            if ((((s * 2685821657736338717) & MASK64) >> 33) % 100) < pct:
                row.append(kb)
        row.append(qb)
        rows.append(tuple(row))
    return tuple(rows)


def block_pct(name):
    """The percentage of a block layout name ("blocks10" -> 10), else None."""
    return int(name[len("blocks"):]) if name.startswith("blocks") else None


def block_kept_pairs(rows, n):
    """Exact kept causal pairs of a block layout over rows 0..n-1: an earlier key block keeps all 64 of
    its keys for each of the query block's m rows, the diagonal block m (m + 1) / 2 pairs."""
    total = 0
    for qb, row in enumerate(rows):
        m = min(64, n - 64 * qb)
        total += 64 * m * (len(row) - 1) + m * (m + 1) // 2
    return total


def block_hash(rows):
    """FNV-1a 64 of the listed key blocks row by row (each kb, then 0xFFFFFFFF), as bench_layouts_dump."""
    x = 14695981039346656037
    for row in rows:
        for kb in row:
            x = ((x ^ kb) * 1099511628211) & MASK64
        x = ((x ^ 0xFFFFFFFF) * 1099511628211) & MASK64
    return x


def layout_kept_pairs(name, H, n):
    """Exact kept causal pairs of layout `name` over all H heads at n tokens."""
    if block_pct(name) is not None:
        return sum(block_kept_pairs(block_lists(h, block_pct(name), n), n) for h in range(H))
    return sum(kept_pairs(*layout_parts(name, h), n) for h in range(H))


def layout_parts(name, h):
    """(sorted unique columns, sorted unique diagonals) of layout `name` for head h, as the MaskPlan
    holds them after maskplan_set_cols / maskplan_set_diags."""
    if name == "dam_like":
        cols, diags = dam_like_parts(h)
    elif name.startswith("sink") and "_win" in name:
        sinks, window = (int(x) for x in name[len("sink"):].split("_win"))
        cols, diags = range(sinks), range(window)
    else:
        raise ValueError(f"unknown layout {name!r}")
    return sorted(set(cols)), sorted(set(diags))


def layout_window(name):
    """The window of a sink+window layout (the bench skips it when window >= n), else None."""
    return int(name.split("_win")[1]) if "_win" in name else None


def kept_pairs(cols, diags, n):
    """Exact kept causal pairs over rows 0..n-1 of a plan of columns and diagonals (maskplan_kept_pairs):
    column c keeps rows c..n-1, diagonal r rows r..n-1, and the pair (c + r, c) is counted once."""
    by_cols = sum(n - c for c in cols if c < n)
    by_diags = sum(n - r for r in diags if r < n)
    both = sum(bisect.bisect_left(diags, n - c) for c in cols if c < n)  # diagonals r with c + r < n
    return by_cols + by_diags - both


def causal_pairs(n):
    """Causal pairs (j <= p) of an n-token sequence: n (n + 1) / 2."""
    return n * (n + 1) // 2


def print_layouts(H, ns):
    """The lines of tests/tools/bench_layouts_dump H ns... (dam_like per head, the sink+window layouts
    once since every head has the same)."""
    for n in ns:
        for name in LAYOUTS:
            for h in range(H if name == "dam_like" else 1):
                cols, diags = layout_parts(name, h)
                print(f"{name} n {n} head {h} cols {' '.join(map(str, cols))} diags {' '.join(map(str, diags))} "
                      f"kept {kept_pairs(cols, diags, n)}")
        if n > BLOCK_PRINT_MAX_N:
            continue
        for name in BLOCK_LAYOUTS:
            for h in range(min(H, BLOCK_PRINT_HEADS)):
                rows = block_lists(h, block_pct(name), n)
                print(f"{name} n {n} head {h} blocks {sum(map(len, rows))} hash {block_hash(rows)} "
                      f"kept {block_kept_pairs(rows, n)}")


# ---- masks on the device ----

def mask_tables(torch, name, H, device):
    """Per-head lookup tables of a layout: cols [H, COL_TABLE] bool (key j is a column of head h) and
    diags [H, DIAG_TABLE] bool (offset p - j is a diagonal of head h). Same shapes for every layout, so
    one compiled FlexAttention kernel serves them all (the tables are kernel inputs, not constants)."""
    cols = torch.zeros(H, COL_TABLE, dtype=torch.bool)
    diags = torch.zeros(H, DIAG_TABLE, dtype=torch.bool)
    for h in range(H):
        c, r = layout_parts(name, h)
        if c[-1] >= COL_TABLE or r[-1] >= DIAG_TABLE:
            raise ValueError(f"layout {name} exceeds the mask tables")
        cols[h, c] = True
        diags[h, r] = True
    return cols.to(device), diags.to(device)


def make_mask_mod(cols, diags):
    """The FlexAttention mask_mod of a MaskPlan made of columns and diagonals (kernels/maskplan.h):
    query p keeps key j iff j <= p and (j is a column or p - j is a diagonal of head h). Reads the
    tables `cols` / `diags` (mask_tables), whose contents may be replaced in place between layouts."""
    n_cols, n_diags = cols.shape[1], diags.shape[1]

    def mask_mod(b, h, q_idx, kv_idx):
        off = q_idx - kv_idx
        in_col = (kv_idx < n_cols) & cols[h, kv_idx.clamp(0, n_cols - 1)]
        in_diag = (off < n_diags) & diags[h, off.clamp(0, n_diags - 1)]
        return (off >= 0) & (in_col | in_diag)
    return mask_mod


def block_table(torch, name, H, n, device):
    """[H, nb, nb] bool: key block kb kept by query block qb of head h (block layout `name`, n tokens)."""
    nb = -(-n // 64)
    t = torch.zeros(H, nb, nb, dtype=torch.bool)
    for h in range(H):
        for qb, row in enumerate(block_lists(h, block_pct(name), n)):
            t[h, qb, list(row)] = True
    return t.to(device)


def make_block_mask_mod(table):
    """The FlexAttention mask_mod of a block plan: query p keeps key j iff j <= p and key block j // 64
    is kept by query block p // 64 of head h (table, block_table; replaced in place between layouts)."""
    def mask_mod(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & table[h, q_idx // 64, kv_idx // 64]
    return mask_mod


def explicit_mask(torch, name, H, rows, n, device):
    """The layout's mask evaluated directly from its parts (not through the mask_mod): [H, len(rows), n]
    bool, row i = query position rows[i]; name "causal" gives the plain causal mask."""
    j = torch.arange(n, device=device)
    p = rows.to(device)[:, None]
    causal = j[None, :] <= p
    if name == "causal":
        return causal.expand(H, -1, -1)
    out = torch.empty(H, len(rows), n, dtype=torch.bool, device=device)
    if block_pct(name) is not None:
        t = block_table(torch, name, H, n, device)
        for h in range(H):
            out[h] = causal & t[h][(p // 64).expand(-1, n), (j // 64)[None, :].expand(len(rows), -1)]
        return out
    for h in range(H):
        c, r = layout_parts(name, h)
        in_col = torch.isin(j, torch.tensor(c, device=device))[None, :]
        in_diag = torch.isin(p - j[None, :], torch.tensor(r, device=device))
        out[h] = causal & (in_col | in_diag)
    return out


def check_mask_mod(torch, fa, mask_mod, name, H, n, device):
    """Element-by-element check of mask_mod (evaluated by FlexAttention's create_mask) against
    explicit_mask at n tokens, and of its kept pairs against the exact count: dict with mismatches (0
    when right) and the two counts."""
    got = fa.create_mask(mask_mod, 1, H, n, n, device=device)[0]
    want = explicit_mask(torch, name, H, torch.arange(n), n, device)
    exact = layout_kept_pairs(name, H, n)
    return {"n": n, "mismatches": int((got != want).sum()), "kept_counted": int(got.sum()), "kept_exact": exact}


def tile_density(bm, n, H):
    """Blocks FlexAttention visits (partial + full, all heads) / causal blocks of the BlockMask's size."""
    kept = int(bm.kv_num_blocks.sum())
    if bm.full_kv_num_blocks is not None:
        kept += int(bm.full_kv_num_blocks.sum())
    qb = -(-n // bm.BLOCK_SIZE[0])
    return kept / (H * qb * (qb + 1) // 2)


# ---- inputs, timing, checks ----

def make_inputs(torch, H, KV, d, n, device, n_sets):
    """n_sets input sets (q [1, H, n, d], k and v [1, KV, n, d], bf16 uniform in [-1, 1)), seeded."""
    sets = []
    for s in range(n_sets):
        g = torch.Generator(device=device).manual_seed(1000 + s)

        def uni(*shape):
            return (torch.rand(*shape, generator=g, device=device) * 2 - 1).to(torch.bfloat16)
        sets.append((uni(1, H, n, d), uni(1, KV, n, d), uni(1, KV, n, d)))
    return sets


def input_sets(H, KV, d, n):
    """How many input sets to rotate: enough to exceed 256 MB, at most 8 (the bench's rule)."""
    set_bytes = 2 * n * d * (H + 2 * KV)
    return min(8, (256 << 20) // set_bytes + 1)


def repeats(n):
    """Timed repeats per case (the bench's): 100 up to 4K, 40 up to 16K, 15 beyond."""
    return 100 if n <= 4096 else 40 if n <= 16384 else 15


def time_ms(torch, fn, sets, reps, device):
    """Median ms of `reps` calls fn(q, k, v) after 3 warm-ups, rotating the input sets. On the GPU a CUDA
    event pair around each call, all calls queued before one synchronisation, so Python's launch cost
    overlaps the previous call (as in triton.testing.do_bench); on the CPU (dry run) wall clock."""
    for r in range(3):
        fn(*sets[r % len(sets)])
    if device != "cuda":
        times = []
        for r in range(reps):
            t0 = time.perf_counter()
            fn(*sets[r % len(sets)])
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    for r, (a, b) in enumerate(events):
        q, k, v = sets[(r + 3) % len(sets)]
        a.record()
        fn(q, k, v)
        b.record()
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) for a, b in events)


def check_rows(n):
    """The query rows an output check compares: the first 64, the last 64, and evenly spread ones."""
    if n <= CHECK_ROWS:
        return list(range(n))
    mid = CHECK_ROWS - 128
    spread = [64 + (n - 128) * i // mid for i in range(mid)]
    return sorted(set(range(64)) | set(spread) | set(range(n - 64, n)))


def check_output(torch, out, q, k, v, name, device):
    """Compares out [1, H, n, d] on check_rows(n) with a float32 softmax reference under the layout's
    explicit mask (scale 1/sqrt(d), GQA head h reads KV head h // (H / KV)): max abs error, relative L2
    error and whether both are within the tolerances."""
    H, n, d = q.shape[1], q.shape[2], q.shape[3]
    rows = torch.tensor(check_rows(n))
    group = H // k.shape[1]
    kf = k[0].float().repeat_interleave(group, 0)
    vf = v[0].float().repeat_interleave(group, 0)
    s = q[0][:, rows.to(q.device)].float() @ kf.transpose(1, 2) / math.sqrt(d)
    s = s.masked_fill(~explicit_mask(torch, name, H, rows, n, device), float("-inf"))
    ref = torch.softmax(s, dim=-1) @ vf
    got = out[0][:, rows.to(q.device)].float()
    max_abs = float((got - ref).abs().max())
    rel_l2 = float((got - ref).norm() / ref.norm())
    return {"rows": len(rows), "max_abs": max_abs, "rel_l2": rel_l2,
            "ok": max_abs <= TOL_ABS and rel_l2 <= TOL_REL_L2}


def causal_tflops(n, H, d, ms):
    """TFLOP/s counting causal FLOPs 4·n²·d·H/2."""
    return 4.0 * n * n * d * H / 2 / (ms * 1e-3) / 1e12


def io_bytes(n, H, KV, d):
    """Bytes one attention call must move at least: Q and O (H heads) and K, V (KV heads), bf16."""
    return 2 * n * d * (2 * H + 2 * KV)


def one_line(e):
    """An exception (or warning) as one short line."""
    return " ".join(str(e).split())[:200] or type(e).__name__


# ---- the peers ----

def measure_ceilings(torch, device, small):
    """Copy bandwidth (device-to-device copy of 2 GiB, bytes read + written / time) and bf16 matmul
    TFLOP/s (8192^3); `small` (dry run) uses 16 MiB and 256^3."""
    nbytes = (16 << 20) if small else (2 << 30)
    src = torch.empty(nbytes // 2, dtype=torch.bfloat16, device=device).uniform_(-1, 1)
    dst = torch.empty_like(src)
    copy_ms = time_ms(torch, lambda q, k, v: dst.copy_(src), [(None, None, None)], 20, device)
    m = 256 if small else 8192
    a = torch.empty(m, m, dtype=torch.bfloat16, device=device).uniform_(-1, 1)
    b = torch.empty(m, m, dtype=torch.bfloat16, device=device).uniform_(-1, 1)
    mm_ms = time_ms(torch, lambda q, k, v: a @ b, [(None, None, None)], 20, device)
    return {"copy_bytes": 2 * nbytes, "copy_ms": copy_ms, "copy_GBps": 2 * nbytes / (copy_ms * 1e-3) / 1e9,
            "matmul_m": m, "matmul_ms": mm_ms, "matmul_tflops": 2.0 * m ** 3 / (mm_ms * 1e-3) / 1e12}


def sdpa_runner(torch, gqa):
    """fn(q, k, v) running causal SDPA (the backend is forced by the caller's sdpa_kernel context), GQA
    through enable_gqa (gqa=True) or with k, v already repeated to the query heads (gqa=False)."""
    F = torch.nn.functional

    def run(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
    return run


def run_dense(torch, shape, n, sets, device, reps):
    """Dense causal SDPA for each backend: list of result dicts (ms, TFLOP/s, GQA mode, check) or
    {error} for a backend that refuses the shape."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    H, KV, d = SHAPES[shape]
    group = H // KV
    repeated = None
    results = []
    for label, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION),
                           ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
        res = {"kind": "dense", "shape": shape, "H": H, "KV": KV, "d": d, "n": n, "backend": label}
        try:
            with sdpa_kernel([backend]), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                mode, use = "enable_gqa", sets
                try:
                    out = sdpa_runner(torch, True)(*sets[0])
                except RuntimeError as e:
                    reason = one_line(" | ".join(str(w.message) for w in caught) or e)
                    if repeated is None:
                        repeated = [(q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1))
                                    for q, k, v in sets]
                    try:
                        out = sdpa_runner(torch, False)(*repeated[0])
                    except RuntimeError:
                        raise RuntimeError(reason) from None
                    mode, use = "repeat_kv", repeated
                    print(f"  {shape} n={n} SDPA {label}: refuses enable_gqa ({reason}); K/V repeated to {H} heads")
                res["gqa"] = mode
                res["check"] = check_output(torch, out, *sets[0], "causal", device)
                del out
                res["ms"] = time_ms(torch, sdpa_runner(torch, mode == "enable_gqa"), use, reps, device)
            res["tflops"] = causal_tflops(n, H, d, res["ms"])
        except RuntimeError as e:  # no kernel for this shape, or out of memory
            res["error"] = one_line(e)
        results.append(res)
    return results


def flex_runner(torch, compiled, bm, block, device):
    """fn(q, k, v) running FlexAttention (compiled) under BlockMask bm with GQA; for block < 128 on
    the GPU the kernel's tile is set to block x block so it divides the mask's blocks."""
    opts = {"BLOCK_M": block, "BLOCK_N": block} if device == "cuda" and block < 128 else None

    def run(q, k, v):
        return compiled(q, k, v, block_mask=bm, enable_gqa=True, kernel_options=opts)
    return run


def run_sparse(torch, shape, n, sets, device, reps, blocks, cudnn_ms, copy_GBps, compiled, mask_checks):
    """FlexAttention on every layout and block size: list of result dicts (densities, ms, ideal,
    checks) or {error}. mask_checks caches check_mask_mod's results by (shape, layout, check n), as
    they are the same for every n >= CHECK_N."""
    import torch.nn.attention.flex_attention as fa
    H, KV, d = SHAPES[shape]
    cols, diags = mask_tables(torch, "dam_like", H, device)
    part_mask_mod = make_mask_mod(cols, diags)
    table = block_table(torch, BLOCK_LAYOUTS[0], H, n, device)
    blk_mask_mod = make_block_mask_mod(table)
    build_block_mask = torch.compile(fa.create_block_mask, dynamic=False)  # never materialises n x n
    results = []
    for name in LAYOUTS + BLOCK_LAYOUTS:
        w = layout_window(name)
        if w is not None and w >= n:
            continue
        if block_pct(name) is not None:
            table.copy_(block_table(torch, name, H, n, device))
            mask_mod = blk_mask_mod
        else:
            c, r = mask_tables(torch, name, H, device)
            cols.copy_(c)
            diags.copy_(r)
            mask_mod = part_mask_mod
        elem = layout_kept_pairs(name, H, n) / (H * causal_pairs(n))
        key = (shape, name, min(n, CHECK_N))
        if key not in mask_checks:
            mcheck = check_mask_mod(torch, fa, mask_mod, name, H, key[2], device)
            mcheck["ok"] = mcheck["mismatches"] == 0 and mcheck["kept_counted"] == mcheck["kept_exact"]
            mask_checks[key] = mcheck
        mcheck = mask_checks[key]
        ideal = None
        if cudnn_ms is not None:
            ideal = max(elem * cudnn_ms, io_bytes(n, H, KV, d) / (copy_GBps * 1e9) * 1e3)
        for block in blocks:
            res = {"kind": "sparse", "shape": shape, "H": H, "KV": KV, "d": d, "n": n, "layout": name,
                   "backend": "flex", "block": block, "elem_density": elem, "mask_check": mcheck,
                   "cudnn_ms": cudnn_ms, "ideal_ms": ideal, "io_bytes": io_bytes(n, H, KV, d)}
            try:
                bm = build_block_mask(mask_mod, 1, H, n, n, device=device, BLOCK_SIZE=block)
                res["tile_density"] = tile_density(bm, n, H)
                run = flex_runner(torch, compiled, bm, block, device)
                out = run(*sets[0])
                res["check"] = check_output(torch, out, *sets[0], name, device)
                del out
                res["ms"] = time_ms(torch, run, sets, reps, device)
                res["flex_over_ideal"] = res["ms"] / ideal if ideal else None
                res["cudnn_over_flex"] = cudnn_ms / res["ms"] if cudnn_ms else None
            except Exception as e:  # a refused configuration (Triton resources, compile error) is one line
                res["error"] = one_line(e)
            results.append(res)
    return results


# ---- output ----

def fmt(x, spec):
    """x formatted, or 'n/a' for None."""
    return "n/a" if x is None else format(x, spec)


def check_text(res):
    """The checks of one result as a short text: 'ok (err 1.2e-03)' or 'FAIL ...'."""
    parts, ok = [], True
    if "mask_check" in res:
        m = res["mask_check"]
        ok &= m["ok"]
        if not m["ok"]:
            parts.append(f"mask_mod {m['mismatches']} mismatches, kept {m['kept_counted']} vs {m['kept_exact']}")
    if "check" in res:
        c = res["check"]
        ok &= c["ok"]
        parts.append(f"err {c['max_abs']:.1e} rel {c['rel_l2']:.1e}")
    return ("ok " if ok else "FAIL ") + "; ".join(parts)


def print_dense(results):
    """One table line per dense result (a refused backend: one line naming it and why)."""
    for r in results:
        if "error" in r:
            print(f"{r['shape']:<10} {r['n']:>6}  SDPA {r['backend']:<10} refused: {r['error']}")
            continue
        print(f"{r['shape']:<10} {r['n']:>6}  SDPA {r['backend']:<10} {r['gqa']:<11} {r['ms']:9.3f} ms "
              f"{r['tflops']:6.1f} TFLOP/s   {check_text(r)}")


def print_sparse(results):
    """One table line per sparse result (a refused case: one line naming it, its mask check and why)."""
    for r in results:
        if "error" in r:
            print(f"{r['shape']:<10} {r['n']:>6}  {r['layout']:<16} blk {r['block']:>3}  Flex refused "
                  f"(mask {check_text(r)}): {r['error']}")
            continue
        print(f"{r['shape']:<10} {r['n']:>6}  {r['layout']:<16} blk {r['block']:>3}  elem {r['elem_density']:.5f} "
              f"tiles {r['tile_density']:.4f}  flex {r['ms']:8.3f} ms  cudnn {fmt(r['cudnn_ms'], '8.3f')} ms  "
              f"ideal {fmt(r['ideal_ms'], '7.4f')} ms  flex/ideal {fmt(r['flex_over_ideal'], '6.1f')}  "
              f"{check_text(r)}")


def all_ok(results):
    """Whether every check of every result passed (refused cases do not count as failures)."""
    for r in results:
        if "mask_check" in r and not r["mask_check"]["ok"]:
            return False
        if "check" in r and not r["check"]["ok"]:
            return False
    return True


# ---- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Times the peers of our CUDA attention kernels (torch SDPA cuDNN / FlashAttention-2 / "
        "memory-efficient, FlexAttention on the bench's MaskPlan layouts) on the same shapes and masks, "
        "with the copy and matmul ceilings, on one GPU. See docs/cuda.md, 'Peers in the same run'.",
        epilog="Exit status: 0 all ran and every check passed; 1 a correctness check failed; 2 bad "
        "arguments or no GPU. Default run (both shapes, n 4096 16384 65536, blocks 128 64): a few minutes "
        "on one H200, most of it compiling FlexAttention.")
    ap.add_argument("--shape", nargs="+", choices=sorted(SHAPES), default=["smollm2", "llama3-8b"],
                    help="smollm2 = H 9, KV 3, d 64; llama3-8b = H 32, KV 8, d 128 (default both)")
    ap.add_argument("--n", nargs="+", type=int, default=None,
                    help="sequence lengths (default 4096 16384 65536; 1280 with --dry-run)")
    ap.add_argument("--block", nargs="+", type=int, default=[128, 64],
                    help="FlexAttention BlockMask block sizes (default 128 64)")
    ap.add_argument("--json", metavar="FILE", help="also write every figure to FILE (JSON)")
    ap.add_argument("--dry-run", action="store_true",
                    help="on the CPU: mask_mods, densities, BlockMasks and the correctness checks at "
                    "small n (timings are wall clock, one repeat, and mean nothing)")
    ap.add_argument("--print-layouts", action="store_true",
                    help="print the layouts' columns, diagonals and exact kept pairs for heads "
                    "0..HEADS-1 at each --n (the format of tests/tools/bench_layouts_dump) and exit; "
                    "needs no torch")
    ap.add_argument("--heads", type=int, default=32, help="heads for --print-layouts (default 32)")
    a = ap.parse_args(argv)
    if a.n is None:
        a.n = [1280] if a.dry_run else [4096, 16384, 65536]
    if any(n < 1 for n in a.n) or any(b < 16 or b & (b - 1) for b in a.block) or a.heads < 1:
        ap.error("--n must be >= 1, --block a power of two >= 16, --heads >= 1")
    return a


def main(argv):
    a = parse_args(argv)
    if a.print_layouts:
        print_layouts(a.heads, a.n)
        return 0
    try:
        import torch
    except ImportError as e:
        print(f"peers_attention: cannot import torch ({one_line(e)})", file=sys.stderr)
        return 2
    device = "cpu" if a.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("peers_attention: no CUDA GPU visible to torch (use --dry-run for the CPU check)", file=sys.stderr)
        return 2
    for key in ("cache_size_limit", "recompile_limit"):  # one compile per (shape, n, block): > the default 8
        if hasattr(torch._dynamo.config, key):
            setattr(torch._dynamo.config, key, 256)
    from torch.nn.attention.flex_attention import flex_attention
    t_start = time.time()
    gpu = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu"
    print(f"peers_attention: torch {torch.__version__} (CUDA {torch.version.cuda}), {gpu}, "
          f"{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    cols0, diags0 = layout_parts("dam_like", 0)
    print(f"dam_like head 0: cols {cols0} diags 64..: {diags0[64:]} (tests/tools/bench_layouts_dump 1 N)")
    ceil = measure_ceilings(torch, device, a.dry_run)
    print(f"ceilings: copy {ceil['copy_GBps']:.0f} GB/s (read + written, {ceil['copy_bytes'] >> 20} MiB), "
          f"bf16 matmul {ceil['matmul_m']}^3 {ceil['matmul_tflops']:.3g} TFLOP/s")
    report = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpu": gpu, "device": device,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "argv": argv, "ceilings": ceil, "tolerances": {"max_abs": TOL_ABS, "rel_l2": TOL_REL_L2},
              "results": []}
    mask_checks = {}
    print("table: shape n | SDPA backend, GQA mode, median ms, TFLOP/s (causal FLOPs), check | layout, Flex "
          "block, elem density, tile density, Flex ms, cuDNN dense ms, ideal ms, Flex / ideal, checks "
          "(max abs error, relative L2 error)")
    for shape in a.shape:
        H, KV, d = SHAPES[shape]
        for n in a.n:
            t0 = time.time()
            torch._dynamo.reset()  # fresh compile per (shape, n); nothing carries across shapes
            compiled = torch.compile(flex_attention, dynamic=False)
            reps = 1 if a.dry_run else repeats(n)
            sets = make_inputs(torch, H, KV, d, n, device, 1 if a.dry_run else input_sets(H, KV, d, n))
            dense = run_dense(torch, shape, n, sets, device, reps)
            cudnn = next((r["ms"] for r in dense if r["backend"] == "cudnn" and "ms" in r), None)
            sparse = run_sparse(torch, shape, n, sets, device, reps, a.block, cudnn, ceil["copy_GBps"], compiled,
                                mask_checks)
            print_dense(dense)
            print_sparse(sparse)
            print(f"  ({shape} n={n}: {len(sets)} input sets, {reps} repeats, {time.time() - t0:.0f} s)")
            report["results"] += dense + sparse
            del sets
            if device == "cuda":
                torch.cuda.empty_cache()
    ok = all_ok(report["results"])
    report["all_checks_ok"] = ok
    report["seconds"] = time.time() - t_start
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    print(f"peers_attention: {'all checks passed' if ok else 'CHECK FAILED (see FAIL above)'}, "
          f"{report['seconds']:.0f} s" + (f", figures in {a.json}" if a.json else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
