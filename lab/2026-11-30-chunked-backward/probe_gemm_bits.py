import numpy as np
C,F,K,HW,N=32,64,5,14,128
rng=np.random.default_rng(0)
wt=np.ascontiguousarray(rng.standard_normal((F,C*K*K),np.float32).T)
gy=rng.standard_normal((F,N*HW*HW),np.float32)
whole=np.empty((C*K*K,N*HW*HW),np.float32); np.matmul(wt,gy,out=whole)
res=[]
for s in (1,2,3,4,6,8,13,16,26,32,53,64):
    ok=True
    for a in range(0,N,s):
        b=min(a+s,N); part=np.empty((C*K*K,(b-a)*HW*HW),np.float32)
        np.matmul(wt,gy[:,a*HW*HW:b*HW*HW],out=part)
        ok&= part.tobytes()==whole[:,a*HW*HW:b*HW*HW].tobytes()
    res.append(f"{s}:{'same' if ok else 'DIFF'}")
print(" ".join(res))
