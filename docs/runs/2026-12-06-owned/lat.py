import sys, time, statistics, numpy as np, mnistnp
from mnistnp.nn import threads
sys.path.insert(0, 'benchmarks')
from harness import median_call_us
model = mnistnp.network("conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:128", (28, 28), 10, rng=np.random.default_rng(0))
img = mnistnp.datasets.load("mnist")[1][0][:1]
mode = sys.argv[1]
if mode == "blas2":
    type(model).owns_cores = property(lambda self: False)
print(mode, median_call_us(lambda: model.predict_proba(img), 500, 50))
