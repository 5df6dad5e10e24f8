for r in 1 2 3; do for m in owned blas2; do env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lat.py $m; done; done
