# Needs Conv2D.input_grad: run with PYTHONPATH at main src + after.patch (lab/2026-11-30-chunked-backward/).
import numpy as np, sys
from mnistnp.nn import conv, threads
rng=np.random.default_rng(0)
for (c,f,n,hw,k) in [(32,64,128,14,5),(3,7,37,9,3),(1,32,128,28,5)]:
    ho=wo=hw
    w=rng.standard_normal((f,c,k,k)).astype(np.float32)
    gy=rng.standard_normal((f,n*ho*wo)).astype(np.float32)
    wt=w.reshape(f,-1).T
    hp=ho+k-1
    ref=np.empty((c,n,hp,hp),np.float32)
    cols=wt@gy
    conv.col2im(cols.reshape(c,k,k,n,ho,wo),(1,1),ref)
    for t in (1,2):
        threads.set_num_threads(t)
        for lim in (1, 1<<16, 1<<20, 1<<22, 1<<40):
            conv.BACKWARD_CHUNK_VALUES=lim
            out=np.full((c,n,hp,hp),np.nan,np.float32)
            conv.input_grad(wt,gy,(c,k,k,ho,wo),(1,1),np.empty(c*k*k*n*ho*wo,np.float32),out)
            print(c,f,n,t,lim, out.tobytes()==ref.tobytes(), np.abs(out-ref).max())
