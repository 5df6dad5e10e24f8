import numpy as np, time, sys
# run from the repository root with src on PYTHONPATH
from mnistnp.nn import conv
def old(cols, stride, out):
    sh, sw = stride
    _, kh, kw, _, ho, wo = cols.shape
    out[...] = 0
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += cols[:, i, j]
for C, H, k in [(32, 14, 3), (64, 14, 3), (32, 14, 5), (32, 28, 3)]:
    N = 128; p = k - 1
    rng = np.random.default_rng(0)
    cols = rng.standard_normal((C, k, k, N, H, H), dtype=np.float32)
    out = np.empty((C, N, H + p, H + p), np.float32); spread = np.empty_like(out)
    ts = {'old': [], 'new': []}
    for r in range(9):
        s = time.perf_counter(); old(cols, (1, 1), out); ts['old'].append(time.perf_counter() - s)
        a = out.copy()
        s = time.perf_counter(); conv.col2im(cols, (1, 1), out, spread); ts['new'].append(time.perf_counter() - s)
        assert np.array_equal(a, out)
    print(f"C={C} H={H} k={k}: old {1e3*np.median(ts['old']):.2f} ms, new {1e3*np.median(ts['new']):.2f} ms")
