"""Probe: col2im with inner runs of (H'-1)*Wp+W' numbers (the column gradient made at the padded
width Wp, zeros beyond W') against today's 14-number runs, second conv of the benchmark CNN."""
import numpy as np, time, statistics
from mnistnp.nn import conv, threads
C,F,K,HW,N=32,64,5,14,128; WP=HW+K-1; ROWS=C*K*K
rng=np.random.default_rng(0)
wt=np.ascontiguousarray(rng.standard_normal((F,ROWS),np.float32).T)
gy=rng.standard_normal((F,N,HW,HW),np.float32)
gyp=np.zeros((F,N,HW,WP),np.float32); gyp[..., :HW]=gy
cols=np.empty((ROWS,N*HW*HW),np.float32); colsp=np.empty((ROWS,N*HW*WP),np.float32)
out=np.empty((C,N,WP,WP),np.float32); outp=np.empty((C,N,WP,WP),np.float32)
L=(HW-1)*WP+HW
def gemm(): np.matmul(wt,gy.reshape(F,-1),out=cols)
def gemmp(): np.matmul(wt,gyp.reshape(F,-1),out=colsp)
def c2(): conv.col2im(cols.reshape(C,K,K,N,HW,HW),(1,1),out)
def addp(lo,hi):
    o=outp[:,lo:hi].reshape(C,hi-lo,WP*WP); o[...]=0
    src=colsp.reshape(C,K,K,N,HW*WP)[:,:,:,lo:hi,:L]
    for i in range(K):
        for j in range(K):
            o[:,:,i*WP+j:i*WP+j+L]+=src[:,i,j]
def c2p(): threads.run(addp,N,cols.size)
gemm();c2();gemmp();c2p()
print("max |diff| / max", np.abs(out-outp).max()/np.abs(out).max(), "bit-identical", out.tobytes()==outp.tobytes())
print("our threads", threads.num_threads())
cases=[("gemm",gemm),("col2im",c2),("gemm padded",gemmp),("col2im long runs",c2p)]
ts={n:[] for n,_ in cases}
for r in range(7):
    for n,f in (cases if r%2==0 else cases[::-1]):
        t=time.perf_counter()
        for _ in range(10): f()
        ts[n].append((time.perf_counter()-t)/10)
for n,v in ts.items(): print(f"{n:>18}: {statistics.median(v)*1e3:6.2f} ms (min-max {min(v)*1e3:.2f}-{max(v)*1e3:.2f})")
# chunked + long runs: each chunk's padded-width GEMM then its long-run adds while it is hot
scratch=np.empty(ROWS*N*HW*WP,np.float32)
gypf=gyp.reshape(F,-1)
def chunkp(step):
    def run():
        for a in range(0,N,step):
            b=min(a+step,N)
            part=scratch[:ROWS*(b-a)*HW*WP].reshape(ROWS,-1)
            np.matmul(wt,gypf[:,a*HW*WP:b*HW*WP],out=part)
            src=part.reshape(C,K,K,b-a,HW*WP)[..., :L]
            def add(lo,hi,src=src,a=a):
                o=outq[:,a+lo:a+hi].reshape(C,hi-lo,WP*WP); o[...]=0
                for i in range(K):
                    for j in range(K):
                        o[:,:,i*WP+j:i*WP+j+L]+=src[:,i,j,lo:hi]
            threads.run(add,b-a,part.size)
    return run
outq=np.empty_like(out)
cases2=[("whole (gemm+col2im)",lambda:(gemm(),c2())),("padded whole",lambda:(gemmp(),c2p()))]+[(f"padded chunks of {s}",chunkp(s)) for s in (2,4,8,16,32)]
for n,f in cases2: f()
chunkp(8)(); print("chunked padded bit-identical to whole padded:", outq.tobytes()==outp.tobytes(), "to today's:", outq.tobytes()==out.tobytes(), np.abs(outq-out).max()/np.abs(out).max())
ts={n:[] for n,_ in cases2}
for r in range(7):
    for n,f in (cases2 if r%2==0 else cases2[::-1]):
        t=time.perf_counter()
        for _ in range(10): f()
        ts[n].append((time.perf_counter()-t)/10)
for n,v in ts.items(): print(f"{n:>22}: {statistics.median(v)*1e3:6.2f} ms (min-max {min(v)*1e3:.2f}-{max(v)*1e3:.2f})")
