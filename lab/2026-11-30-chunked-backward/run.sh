#!/bin/bash
# Alternated before (main's src) / after (main's src with after.patch), with and without
# OPENBLAS_THREAD_TIMEOUT=4. Run from the patched tree's root, in a venv with mnistnp's
# dependencies: BEFORE_SRC and AFTER_SRC are the two trees' src folders, OUT the log folder,
# LOCK a file that keeps other timed runs out (flock).
: "${BEFORE_SRC:?}" "${AFTER_SRC:?}" "${OUT:?}" "${LOCK:?}"
script=$1; shift
for t in default 4; do
  for tree in before after; do
    if [ $tree = before ]; then pp=$BEFORE_SRC; else pp=$AFTER_SRC; fi
    if [ $t = default ]; then tv=(-u OPENBLAS_THREAD_TIMEOUT); else tv=(OPENBLAS_THREAD_TIMEOUT=4); fi
    out=$OUT/$(basename $script .py)-$tree-$t-$(date +%H%M%S).txt
    echo "== $tree timeout=$t $(date +%T)" | tee $out
    flock "$LOCK" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${tv[@]}" PYTHONPATH=$pp python $script "$@" >> $out 2>&1
  done
done
