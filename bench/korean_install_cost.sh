#!/usr/bin/env bash
# What the korean extra (kss, konlpy, kiwipiepy) costs to install, as BENCHMARKS.md reports it
# (issue #16): CPU seconds of `pip install` (/usr/bin/time), cold (empty pip cache) and warm.
# Part 1: each package alone into a bare venv; part 2: all three into a venv that already holds
# the dependencies they share with `.[dev]` (what adding them to `dev` costs CI).
# Writes only under /tmp (venvs /tmp/kv1 /tmp/kv2, caches /tmp/kcache /tmp/kcache2).
set -x
export PIP_CACHE_DIR=/tmp/kcache
rm -rf /tmp/kcache
for pkg in "kiwipiepy>=0.20,<0.25" "konlpy>=0.6,<0.7" "kss>=6,<7"; do
  rm -rf /tmp/kv1 && python3 -m venv /tmp/kv1 && /tmp/kv1/bin/pip -q install -U pip >/dev/null 2>&1
  /usr/bin/time -f "COLD $pkg: %U user %S sys %e wall" /tmp/kv1/bin/pip install -q "$pkg"
  du -sm /tmp/kv1/lib/python3.11/site-packages | sed "s/^/SIZE $pkg: /"
done
rm -rf /tmp/kv1 && python3 -m venv /tmp/kv1 && /tmp/kv1/bin/pip -q install -U pip >/dev/null 2>&1
/usr/bin/time -f "WARM all three: %U user %S sys %e wall" /tmp/kv1/bin/pip install -q "kiwipiepy>=0.20,<0.25" "konlpy>=0.6,<0.7" "kss>=6,<7"
rm -rf /tmp/kv1 && python3 -m venv /tmp/kv1 && /tmp/kv1/bin/pip -q install -U pip >/dev/null 2>&1
/usr/bin/time -f "WARM kiwipiepy+konlpy: %U user %S sys %e wall" /tmp/kv1/bin/pip install -q "kiwipiepy>=0.20,<0.25" "konlpy>=0.6,<0.7"
SHARED="importlib-resources lxml networkx numpy packaging pyarrow pygments pytest pyyaml regex scipy six tqdm typing-extensions"
rm -rf /tmp/kcache2 /tmp/kv2 && python3 -m venv /tmp/kv2 && /tmp/kv2/bin/pip -q install -U pip >/dev/null 2>&1
PIP_CACHE_DIR=/tmp/kcache /tmp/kv2/bin/pip -q install $SHARED >/dev/null 2>&1
PIP_CACHE_DIR=/tmp/kcache2 /usr/bin/time -f "INCR COLD all three (dev deps present): %U user %S sys %e wall" /tmp/kv2/bin/pip install -q "kiwipiepy>=0.20,<0.25" "konlpy>=0.6,<0.7" "kss>=6,<7" 2>&1 | grep INCR
rm -rf /tmp/kv2 && python3 -m venv /tmp/kv2 && /tmp/kv2/bin/pip -q install -U pip >/dev/null 2>&1
PIP_CACHE_DIR=/tmp/kcache /tmp/kv2/bin/pip -q install $SHARED >/dev/null 2>&1
PIP_CACHE_DIR=/tmp/kcache2 /usr/bin/time -f "INCR WARM all three (dev deps present): %U user %S sys %e wall" /tmp/kv2/bin/pip install -q "kiwipiepy>=0.20,<0.25" "konlpy>=0.6,<0.7" "kss>=6,<7" 2>&1 | grep INCR
rm -rf /tmp/kv2 && python3 -m venv /tmp/kv2 && /tmp/kv2/bin/pip -q install -U pip >/dev/null 2>&1
PIP_CACHE_DIR=/tmp/kcache /tmp/kv2/bin/pip -q install $SHARED >/dev/null 2>&1
PIP_CACHE_DIR=/tmp/kcache2 /usr/bin/time -f "INCR WARM kiwipiepy+konlpy (dev deps present): %U user %S sys %e wall" /tmp/kv2/bin/pip install -q "kiwipiepy>=0.20,<0.25" "konlpy>=0.6,<0.7" 2>&1 | grep INCR
du -sm /tmp/kv2/lib/python3.11/site-packages
echo INCRDONE
