#!/bin/bash
# The compiled passes against the NumPy ones, and the recipe's step with each, alternated.
# LAB: a clone at 2843d39 with lab/2026-12-07-compiled-passes.patch applied (git apply) and
# numba installed (pip install numba); the repository itself without the patch.
# Run from the repository root.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=LAB/src python LAB/lab/compiled_passes.py > passes-1.txt
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/copy_floor.py > floor-1.txt
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python LAB/lab/flat_kernels.py > flat-1.txt
for r in 1 2; do for side in main lab; do
  src=src; [ $side = lab ] && src=LAB/src
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$src python benchmarks/profile_cnn.py --net recipe --repeats 2 --steps 15 > prof-$side-$r.txt 2>&1
done; done
