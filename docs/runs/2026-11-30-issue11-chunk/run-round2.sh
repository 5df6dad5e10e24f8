#!/bin/bash
# Alternated before (main's src) / after (i11-chunk's src), with and without OPENBLAS_THREAD_TIMEOUT=4.
source /work/venvs/chunk/bin/activate
cd /work/wt/chunk
script=$1; shift
for t in 4 default; do
  for tree in after before; do
    if [ $tree = before ]; then pp=/tmp/before/src; else pp=/work/wt/chunk/src; fi
    if [ $t = default ]; then tv=(-u OPENBLAS_THREAD_TIMEOUT); else tv=(OPENBLAS_THREAD_TIMEOUT=4); fi
    out=/tmp/chunkruns/$(basename $script .py)-$tree-$t-$(date +%H%M%S).txt
    echo "== $tree timeout=$t $(date +%T)" | tee $out
    flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${tv[@]}" PYTHONPATH=$pp python $script "$@" >> $out 2>&1
  done
done
