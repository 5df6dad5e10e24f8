import time, numpy as np, sys
from mnistnp.nn.norm import BatchNorm, _feature_dot
from mnistnp.nn.pool import MaxPool2D
from mnistnp.nn.layers import ReLU
rng = np.random.default_rng(0)
def cm(shape):
    x = rng.standard_normal((shape[1], shape[0], *shape[2:]), dtype=np.float32)
    return x.swapaxes(0, 1)
def t(f, r=15):
    f(); ts=[]
    for _ in range(r):
        s=time.process_time(); f(); ts.append(time.process_time()-s)
    return 1e3*min(ts)
for shape in [(128, 32, 28, 28), (128, 64, 14, 14)]:
    x = cm(shape); g = cm(shape)
    bn = BatchNorm(shape[1]); ps=[np.empty(s, np.float32) for s in bn.param_shapes]; bn.bind(ps, [np.empty_like(p) for p in ps]); bn.init(rng)
    print(shape, 'bn fwd', t(lambda: bn.forward(x, True)), 'bn bwd', t(lambda: (bn.forward(x, True), bn.backward(g))) - t(lambda: bn.forward(x, True)))
    mean = np.empty(shape[1], np.float32)
    print('  mean', t(lambda: np.mean(x, axis=(0,2,3), dtype=np.float32, out=mean)), 'sub', t(lambda: np.subtract(x, mean.reshape(1,-1,1,1))), 'fdot', t(lambda: _feature_dot(x, x)), 'sum', t(lambda: np.sum(x, axis=(0,2,3))))
    xc = np.ascontiguousarray(x.swapaxes(0,1))
    print('  contiguous (C,N*HW) view: mean via sum axis1', t(lambda: xc.reshape(shape[1], -1).sum(axis=1)), 'dot rows', t(lambda: np.einsum('ij,ij->i', xc.reshape(shape[1], -1), xc.reshape(shape[1], -1))))
    p = MaxPool2D(2); 
    print('  pool fwd', t(lambda: p.forward(x, True)), 'pool fwd+bwd', t(lambda: p.backward(p.forward(x, True).copy())))
    r = ReLU()
    print('  relu fwd', t(lambda: r.forward(x, True)), 'relu bwd', t(lambda: (r.forward(x, True), r.backward(g))))
