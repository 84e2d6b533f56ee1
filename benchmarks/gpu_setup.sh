# Sourced by the GPU scripts (gpu_check.sh, gpu_group.sh) with $out set: the repository
# on PYTHONPATH, wheels from .whl/ installed into a scratch folder (a GPU machine
# without internet access; see benchmarks/README.md), the GPU and torch noted in
# $out/gpu.txt.
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/regbench-site .whl/*.whl || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/regbench-site"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$out/gpu.txt"
echo "cpus $(nproc)" | tee -a "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" | tee -a "$out/gpu.txt"
